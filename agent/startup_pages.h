// Start-up pages: once the agent is up, it hands back to the kernel the pages of its shared
// libraries that only loading and one-off initialisation touched.
//
// Why: most of an idle agent's resident set is file pages of libraries, not its own memory. The
// dynamic loader reads every library's symbol and relocation tables, and libcurl's global
// initialisation starts OpenSSL's engines through libssh2; Debian's libcurl alone brings about 30
// libraries. Those pages are clean copies of files on disk that the agent will not read again.
//
// How: madvise(MADV_PAGEOUT) (Linux 5.4+) on each read-only, file-backed mapping that holds no
// private (copy-on-write) page. The kernel reclaims the pages only this process maps and leaves
// the shared ones (libc's, say) alone; content never changes, a page needed later is read back
// in. Writable mappings and relocated (RELRO) data are never touched.
#pragma once

#include <cstddef>
#include <string>

namespace agent {

struct StartupPagesRelease {
  bool supported = true;    // false: the kernel has no MADV_PAGEOUT (before 5.4)
  std::size_t mappings = 0;  // mappings advised
  long rss_before_kb = 0;    // VmRSS before and after
  long rss_after_kb = 0;
  std::string error;  // why nothing was done, if so
};

// Reads /proc/self/smaps; safe to call at any time from any thread.
StartupPagesRelease release_startup_pages();

// VmRSS of a process (this one by default) in kB, or -1 if unknown.
long resident_kb(int pid = 0);

}  // namespace agent
