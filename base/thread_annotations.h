// Clang's thread-safety analysis (-Wthread-safety, on whenever the compiler is clang): which
// mutex guards which member, which functions need it held. The names follow Clang's
// documentation and abseil's; under GCC they expand to nothing.
//
//   class Roster {
//     mutable Mutex mu_;
//     std::map<std::string, Member> members_ GUARDED_BY(mu_);
//     void SaveLocked() REQUIRES(mu_);
//   };
#pragma once

#if defined(__clang__)
#define SB_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SB_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) SB_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY SB_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) SB_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) SB_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) SB_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define REQUIRES(...) SB_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) SB_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) SB_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) SB_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) SB_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) SB_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) SB_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) SB_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS SB_THREAD_ANNOTATION(no_thread_safety_analysis)
