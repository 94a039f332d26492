// Start-up pages (agent/startup_pages.h): what is handed back is a clean file page that reads
// back the same; a page the process changed (copy-on-write) is never touched.
#define BOOST_TEST_MODULE startup_pages
#include <boost/test/unit_test.hpp>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "startup_pages.h"

namespace {

constexpr std::size_t kPages = 64;

// The Rss and Anonymous sizes (kB) /proc/self/smaps gives for the mapping that starts at `at`.
struct MappingSize {
  long rss = -1;
  long anonymous = -1;
};
MappingSize mapping_size(const void* at) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  char start[32];
  std::snprintf(start, sizeof start, "%lx-", static_cast<unsigned long>(reinterpret_cast<std::uintptr_t>(at)));
  bool inside = false;
  MappingSize size;
  while (std::getline(smaps, line)) {
    if (line.find('-') < 17 && line.find(' ') > line.find('-') && std::isxdigit(static_cast<unsigned char>(line[0])))
      inside = line.rfind(start, 0) == 0;
    else if (inside && line.rfind("Rss:", 0) == 0)
      size.rss = std::stol(line.substr(4));
    else if (inside && line.rfind("Anonymous:", 0) == 0)
      size.anonymous = std::stol(line.substr(10));
  }
  return size;
}

// A file of kPages pages on disk (in the working directory: /tmp may be a tmpfs, whose pages
// cannot be paged out without swap), each page filled with its number, flushed.
struct PageFile {
  PageFile() {
    char name[] = "startup-pages-test.XXXXXX";
    fd = ::mkstemp(name);
    path = name;
    BOOST_REQUIRE(fd >= 0);
    page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<char> buffer(page);
    for (std::size_t i = 0; i < kPages; ++i) {
      std::memset(buffer.data(), static_cast<int>('A' + i % 26), page);
      BOOST_REQUIRE(::write(fd, buffer.data(), page) == static_cast<ssize_t>(page));
    }
    BOOST_REQUIRE(::fsync(fd) == 0);  // clean pages: dirty ones would wait for writeback
    struct statfs fs {};
    on_tmpfs = ::fstatfs(fd, &fs) == 0 && fs.f_type == 0x01021994;  // TMPFS_MAGIC
  }
  ~PageFile() {
    ::close(fd);
    ::unlink(path.c_str());
  }
  char* map(int prot) {
    void* p = ::mmap(nullptr, kPages * page, prot, MAP_PRIVATE, fd, 0);
    BOOST_REQUIRE(p != MAP_FAILED);
    return static_cast<char*>(p);
  }
  bool holds_pattern(const char* at, std::size_t skip_first = 0) const {
    for (std::size_t i = skip_first; i < kPages; ++i)
      for (std::size_t b = 0; b < page; b += 512)
        if (at[i * page + b] != static_cast<char>('A' + i % 26)) return false;
    return true;
  }
  int fd = -1;
  std::string path;
  std::size_t page = 4096;
  bool on_tmpfs = false;
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_clean_read_only_file_mapping_is_handed_back_and_reads_back_the_same) {
  PageFile file;
  if (file.on_tmpfs) {
    BOOST_TEST_MESSAGE("skipped: the working directory is a tmpfs, whose pages stay without swap");
    return;
  }
  char* at = file.map(PROT_READ);
  BOOST_TEST(file.holds_pattern(at));  // every page read: resident
  auto before = mapping_size(at);
  BOOST_TEST(before.rss >= static_cast<long>(kPages * file.page / 1024));

  auto result = agent::release_startup_pages();
  BOOST_REQUIRE_MESSAGE(result.supported, result.error);
  BOOST_TEST(result.error == "");
  BOOST_TEST(result.mappings > 0u);
  auto after = mapping_size(at);
  BOOST_TEST(after.rss < before.rss / 4, "the mapping kept " << after.rss << " of " << before.rss << " kB");
  BOOST_TEST(result.rss_after_kb < result.rss_before_kb);

  BOOST_TEST(file.holds_pattern(at));  // read back in, unchanged
  ::munmap(at, kPages * file.page);
}

BOOST_AUTO_TEST_CASE(a_mapping_with_a_page_changed_by_the_process_is_left_whole) {
  PageFile file;
  char* at = file.map(PROT_READ | PROT_WRITE);
  BOOST_TEST(file.holds_pattern(at));
  std::memcpy(at, "relocated", 9);  // a private copy of page 0, as the loader makes for RELRO
  BOOST_REQUIRE(::mprotect(at, kPages * file.page, PROT_READ) == 0);
  auto before = mapping_size(at);
  BOOST_TEST(before.anonymous > 0);

  auto result = agent::release_startup_pages();
  BOOST_REQUIRE_MESSAGE(result.supported, result.error);
  auto after = mapping_size(at);
  BOOST_TEST(after.rss == before.rss, "the mapping went from " << before.rss << " to " << after.rss << " kB");
  BOOST_TEST(std::memcmp(at, "relocated", 9) == 0);  // MADV_DONTNEED would have lost it
  BOOST_TEST(file.holds_pattern(at, 1));
  ::munmap(at, kPages * file.page);
}

BOOST_AUTO_TEST_CASE(the_libraries_of_the_process_keep_working_after_the_release) {
  auto result = agent::release_startup_pages();
  BOOST_REQUIRE_MESSAGE(result.supported, result.error);
  std::ostringstream out;
  out << std::hex << 255;  // libstdc++ code, likely handed back above
  BOOST_TEST(out.str() == "ff");
  BOOST_TEST(agent::resident_kb() > 0);
}
