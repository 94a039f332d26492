#include "base/logging.h"

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/File.h>
#include <Poco/FileChannel.h>
#include <Poco/Formatter.h>
#include <Poco/FormattingChannel.h>
#include <Poco/LocalDateTime.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <Poco/Mutex.h>
#include <Poco/Path.h>
#include <Poco/SplitterChannel.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <regex>
#include <vector>

namespace agent {
namespace {

thread_local std::string t_request_id;

}  // namespace

void append_escaped(std::string& line, const std::string& text) {
  static const char* hex = "0123456789abcdef";
  for (unsigned char c : text) {
    if (c == '\n') line += "\\n";
    else if (c == '\r') line += "\\r";
    else if (c == '\\') line += "\\\\";
    else if ((c < 0x20 && c != '\t') || c == 0x7f) {
      line += "\\x";
      line += hex[c >> 4];
      line += hex[c & 15];
    } else {
      line += static_cast<char>(c);
    }
  }
}

namespace {

// "2026-11-28 19:43:34.123 INFO  deploy [rid=ab12..] message"
class LineFormatter : public Poco::Formatter {
 public:
  void format(const Poco::Message& msg, std::string& text) override {
    text = Poco::DateTimeFormatter::format(Poco::LocalDateTime(msg.getTime()), "%Y-%m-%d %H:%M:%S.%i");
    static const char* const kPriorities[] = {"", "FATAL", "CRIT ", "ERROR", "WARN ", "NOTE ", "INFO ", "DEBUG", "TRACE"};
    text += ' ';
    text += kPriorities[msg.getPriority()];
    text += ' ';
    text += msg.getSource();
    if (!t_request_id.empty()) {
      text += " [rid=";
      text += t_request_id;
      text += ']';
    }
    text += ' ';
    append_escaped(text, msg.getText());
  }
};

// The archives of `log_file` (app.log.<timestamp>[.gz]), oldest first, removed until they total at
// most cap_bytes (FUNAI_LOG_TOTAL_SIZE_CAP_BYTES). The timestamp names sort by time. Only finished
// archives (.gz) are removed: an uncompressed one is being compressed by Poco's own thread.
void purge_archives_beyond(const std::string& log_file, int64_t cap_bytes) {
  Poco::Path path(log_file);
  std::vector<std::string> names;
  try {
    Poco::File(path.parent()).list(names);
  } catch (const std::exception&) {
    return;
  }
  // Poco's timestamp archives only (app.log.20261201094512345[.N][.gz]): an operator's
  // app.log.bak is neither counted nor removed.
  const std::regex archive(std::regex_replace(path.getFileName(), std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                           R"(\.[0-9]{14,17}(\.[0-9]+)?(\.gz)?)");
  std::vector<std::pair<std::string, int64_t>> archives;
  int64_t total = 0;
  for (const auto& name : names) {
    if (!std::regex_match(name, archive)) continue;
    try {
      int64_t size = static_cast<int64_t>(Poco::File(Poco::Path(path.parent(), name)).getSize());
      archives.emplace_back(name, size);
      total += size;
    } catch (const std::exception&) {
    }
  }
  std::sort(archives.begin(), archives.end());
  for (const auto& [name, size] : archives) {
    if (total <= cap_bytes) break;
    if (name.size() < 3 || name.compare(name.size() - 3, 3, ".gz") != 0) continue;
    try {
      Poco::File(Poco::Path(path.parent(), name)).remove();
      total -= size;
    } catch (const std::exception&) {
    }
  }
}

// A FileChannel rotated by size (its own "rotation" property) and also at the first message of
// a new day: the channel is reopened with rotateOnOpen, which archives the current file. After
// each rotation (the file got smaller) the archives are held to their total size cap. Every
// message is written under one lock: Poco's FileChannel::log opens the file before it takes its
// own lock, so a close() for the daily rotation on another thread could pull the file from under
// a message being written.
class SizeAndDailyFileChannel : public Poco::Channel {
 public:
  SizeAndDailyFileChannel(Poco::AutoPtr<Poco::FileChannel> file, std::string path, int64_t cap_bytes)
      : file_(std::move(file)), path_(std::move(path)), cap_bytes_(cap_bytes), day_(today()) {}

  void open() override {
    file_->open();
    purge_archives_beyond(path_, cap_bytes_);
  }
  void close() override {
    Poco::FastMutex::ScopedLock lock(mutex_);
    file_->close();
  }

  void log(const Poco::Message& msg) override {
    Poco::FastMutex::ScopedLock lock(mutex_);
    int now = today();
    if (now != day_) {
      day_ = now;
      rotate_locked();
    }
    file_->log(msg);
    uint64_t size = file_->size();
    if (size < last_size_) purge_archives_beyond(path_, cap_bytes_);
    last_size_ = size;
  }

  // Archives the current file now, as at the first message of a day.
  void rotate() {
    Poco::FastMutex::ScopedLock lock(mutex_);
    rotate_locked();
    last_size_ = 0;
  }

 private:
  void rotate_locked() {
    file_->close();
    file_->setProperty(Poco::FileChannel::PROP_ROTATEONOPEN, "true");
    file_->open();
    file_->setProperty(Poco::FileChannel::PROP_ROTATEONOPEN, "false");
    purge_archives_beyond(path_, cap_bytes_);
  }

  static int today() {
    Poco::LocalDateTime now;
    return now.year() * 1000 + now.dayOfYear();
  }

  Poco::AutoPtr<Poco::FileChannel> file_;
  std::string path_;
  int64_t cap_bytes_;
  int day_;
  uint64_t last_size_ = 0;
  Poco::FastMutex mutex_;
};

// The channel configure_logging set up last, for rotate_log_now().
std::mutex g_channel_mutex;
Poco::AutoPtr<SizeAndDailyFileChannel> g_channel;

}  // namespace

void set_current_request_id(const std::string& id) { t_request_id = id; }

void rotate_log_now() {
  Poco::AutoPtr<SizeAndDailyFileChannel> channel;
  {
    std::lock_guard<std::mutex> lock(g_channel_mutex);
    channel = g_channel;
  }
  if (channel) channel->rotate();
}

void configure_logging(const LogOptions& options, bool console) {
  Poco::File(options.dir).createDirectories();

  Poco::AutoPtr<Poco::FileChannel> file(new Poco::FileChannel(options.dir + "/app.log"));
  file->setProperty(Poco::FileChannel::PROP_ROTATION, std::to_string(options.max_file_size_bytes));
  file->setProperty(Poco::FileChannel::PROP_ARCHIVE, "timestamp");
  file->setProperty(Poco::FileChannel::PROP_TIMES, "local");
  file->setProperty(Poco::FileChannel::PROP_COMPRESS, "true");
  file->setProperty(Poco::FileChannel::PROP_PURGEAGE, std::to_string(options.max_history_days) + " days");
  file->setProperty(Poco::FileChannel::PROP_FLUSH, "true");

  Poco::AutoPtr<Poco::SplitterChannel> splitter(new Poco::SplitterChannel);
  Poco::AutoPtr<Poco::Formatter> formatter(new LineFormatter);
  Poco::AutoPtr<SizeAndDailyFileChannel> daily(new SizeAndDailyFileChannel(file, options.dir + "/app.log", options.total_size_cap_bytes));
  {
    std::lock_guard<std::mutex> lock(g_channel_mutex);
    g_channel = daily;
  }
  splitter->addChannel(Poco::AutoPtr<Poco::Channel>(new Poco::FormattingChannel(formatter, daily)));
  if (console) {
    Poco::AutoPtr<Poco::Channel> out(new Poco::ConsoleChannel);
    splitter->addChannel(Poco::AutoPtr<Poco::Channel>(new Poco::FormattingChannel(formatter, out)));
  }
  splitter->open();
  Poco::Logger::root().setChannel(splitter);
  Poco::Logger::root().setLevel(Poco::Message::PRIO_INFORMATION);
  // Loggers created before this point keep their old channel: give them the new one too.
  std::vector<std::string> names;
  Poco::Logger::names(names);
  for (const auto& name : names) {
    Poco::Logger::get(name).setChannel(splitter);
    Poco::Logger::get(name).setLevel(Poco::Message::PRIO_INFORMATION);
  }
}

}  // namespace agent
