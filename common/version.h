#pragma once
// The build's version, baked in at build time (cmake/version.cmake): the CMake project version
// and, when built from a git checkout, `git describe --tags --always --dirty`. Linked only into
// the executables (library sy_version), so a new commit relinks three programs, not every test.
// Any thread; the strings are static.

namespace sy {

// The project version from CMakeLists.txt, e.g. "0.1.0".
const char* version();
// `git describe` of the source tree when it was built, e.g. "215b713-dirty"; "" outside git.
const char* build_describe();
// "0.1.0 (git 215b713-dirty)", or "0.1.0" outside git: what --version prints after the name.
const char* version_line();

}  // namespace sy
