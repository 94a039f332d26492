// Runs a fuzz target over every file of the given folders, without libFuzzer: the saved corpus
// and the inputs of fixed crashes become a regression test that CTest runs in every build.
#include <dirent.h>

#include <cstdint>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  int files = 0;
  for (int i = 1; i < argc; ++i) {
    DIR* dir = opendir(argv[i]);
    if (!dir) {
      std::cerr << "cannot open " << argv[i] << "\n";
      return 2;
    }
    while (dirent* e = readdir(dir)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      std::ifstream in(std::string(argv[i]) + "/" + name, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      std::string data = ss.str();
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
      ++files;
    }
    closedir(dir);
  }
  std::cout << files << " inputs replayed\n";
  std::cout << files << " passed, 0 failed\n";
  return files > 0 ? 0 : 1;
}
