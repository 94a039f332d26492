#include "startup_pages.h"

#include <sys/mman.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21  // Linux 5.4 uapi value; older headers lack it
#endif

namespace agent {
namespace {

struct Mapping {
  std::uintptr_t begin = 0;
  std::uintptr_t end = 0;
  bool candidate = false;     // read-only and backed by a file
  long private_kb = 0;        // Anonymous + Private_Dirty: copy-on-write pages
};

// "7f12-7f34 r-xp 00000000 fe:00 123 /usr/lib/x.so": a header line starts with a hex range.
bool parse_header(const std::string& line, Mapping& m) {
  std::istringstream in(line);
  std::string range, perms, offset, device, inode, path;
  if (!(in >> range >> perms >> offset >> device >> inode)) return false;
  auto dash = range.find('-');
  if (dash == std::string::npos || perms.size() < 4) return false;
  try {
    m.begin = std::stoull(range.substr(0, dash), nullptr, 16);
    m.end = std::stoull(range.substr(dash + 1), nullptr, 16);
  } catch (const std::exception&) {
    return false;
  }
  std::getline(in >> std::ws, path);
  m.candidate = perms[1] != 'w' && !path.empty() && path[0] == '/' && inode != "0";
  return true;
}

long field_kb(const std::string& line, const char* name) {
  auto n = std::strlen(name);
  if (line.compare(0, n, name) != 0 || line.size() <= n || line[n] != ':') return -1;
  return std::strtol(line.c_str() + n + 1, nullptr, 10);
}

std::vector<Mapping> read_mappings() {
  std::vector<Mapping> out;
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  while (std::getline(smaps, line)) {
    Mapping m;
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') < 17 &&
        parse_header(line, m)) {
      out.push_back(m);
      continue;
    }
    if (out.empty()) continue;
    long kb = field_kb(line, "Anonymous");
    if (kb < 0) kb = field_kb(line, "Private_Dirty");
    if (kb > 0) out.back().private_kb += kb;
  }
  return out;
}

}  // namespace

long resident_kb(int pid) {
  std::ifstream status(pid > 0 ? "/proc/" + std::to_string(pid) + "/status" : std::string("/proc/self/status"));
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

StartupPagesRelease release_startup_pages() {
  StartupPagesRelease r;
  r.rss_before_kb = resident_kb();
  auto mappings = read_mappings();
  if (mappings.empty()) {
    r.error = "cannot read /proc/self/smaps";
    r.rss_after_kb = r.rss_before_kb;
    return r;
  }
  int refused = 0, last_errno = 0;
  for (const auto& m : mappings) {
    if (!m.candidate || m.private_kb > 0 || m.end <= m.begin) continue;
    if (::madvise(reinterpret_cast<void*>(m.begin), m.end - m.begin, MADV_PAGEOUT) == 0) {
      ++r.mappings;
    } else {
      ++refused;  // one mapping (gone meanwhile: ENOMEM; locked: EINVAL), or all of them
      last_errno = errno;
    }
  }
  if (r.mappings == 0 && refused > 0) {
    r.supported = last_errno != EINVAL;
    r.error = last_errno == EINVAL ? "madvise(MADV_PAGEOUT) refused: Linux 5.4 or later is needed"
                                   : std::string("madvise(MADV_PAGEOUT): ") + std::strerror(last_errno);
  }
  r.rss_after_kb = resident_kb();
  return r;
}

}  // namespace agent
