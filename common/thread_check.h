#pragma once
// Thread-affinity checks (STYLE rule 2): what the headers call "worker thread only" is
// checked, not only written. An object that belongs to one thread carries a ThreadOwner; the
// first checked call binds it to the calling thread (a worker binds its own explicitly when
// its loop starts), and every later checked call from another thread aborts with the place.
//
//   class WorkerPool { ... WorkerMember* pick(...) { SY_ASSERT_IN(owner_); ... } ThreadOwner
//   owner_; };
//
// Active in debug builds (no NDEBUG), sanitizer builds (-fsanitize=address/thread) and with
// -DSY_THREAD_CHECKS; compiled to nothing otherwise, so the release hot path pays nothing.
// Thread: any.

#include <atomic>
#include <thread>

#if !defined(NDEBUG) || defined(SY_THREAD_CHECKS) || defined(__SANITIZE_ADDRESS__) ||              \
    defined(__SANITIZE_THREAD__)
#define SY_THREAD_CHECKS_ON 1
#else
#define SY_THREAD_CHECKS_ON 0
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#undef SY_THREAD_CHECKS_ON
#define SY_THREAD_CHECKS_ON 1
#endif
#endif

namespace sy {

class ThreadOwner {
 public:
  // The calling thread owns the object from now on (a worker at the start of its loop).
  void bind() { owner_.store(std::this_thread::get_id(), std::memory_order_relaxed); }
  // Binds to the calling thread if unbound; aborts, naming |where|, when another thread owns
  // the object.
  void check(const char* where, const char* file, int line) const;

 private:
  mutable std::atomic<std::thread::id> owner_{};
};

}  // namespace sy

#if SY_THREAD_CHECKS_ON
#define SY_ASSERT_IN(owner) (owner).check(__func__, __FILE__, __LINE__)
#else
#define SY_ASSERT_IN(owner) ((void)0)
#endif
