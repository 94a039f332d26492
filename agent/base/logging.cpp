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
#include <Poco/SplitterChannel.h>

namespace agent {
namespace {

thread_local std::string t_request_id;

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
    text += msg.getText();
  }
};

// A FileChannel rotated by size (its own "rotation" property) and also at the first message of
// a new day: the channel is reopened with rotateOnOpen, which archives the current file.
class SizeAndDailyFileChannel : public Poco::Channel {
 public:
  explicit SizeAndDailyFileChannel(Poco::AutoPtr<Poco::FileChannel> file) : file_(std::move(file)), day_(today()) {}

  void open() override { file_->open(); }
  void close() override { file_->close(); }

  void log(const Poco::Message& msg) override {
    int now = today();
    if (now != day_) {
      Poco::FastMutex::ScopedLock lock(mutex_);
      if (now != day_) {
        day_ = now;
        file_->close();
        file_->setProperty(Poco::FileChannel::PROP_ROTATEONOPEN, "true");
        file_->open();
        file_->setProperty(Poco::FileChannel::PROP_ROTATEONOPEN, "false");
      }
    }
    file_->log(msg);
  }

 private:
  static int today() {
    Poco::LocalDateTime now;
    return now.year() * 1000 + now.dayOfYear();
  }

  Poco::AutoPtr<Poco::FileChannel> file_;
  int day_;
  Poco::FastMutex mutex_;
};

}  // namespace

void set_current_request_id(const std::string& id) { t_request_id = id; }

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
  Poco::AutoPtr<Poco::Channel> daily(new SizeAndDailyFileChannel(file));
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
