// Empty: the translation unit that builds the precompiled catch.hpp (tests/CMakeLists.txt).
