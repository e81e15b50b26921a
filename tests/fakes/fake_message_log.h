#pragma once
// MessageLog and HistoryStore in memory, one store behind both as in SQLite, with the semantics
// of the real ones (the contract suite runs the same cases against all): consecutive seqs per
// room from 1, idempotent client_msg_id per (room, sender), a Deadline claimed at the moment of
// applying, `ts` from the clock, and the committed sink called once per stored message. Callbacks
// run synchronously on the caller's thread, after the lock is released.
#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "app/ports/clock.h"
#include "app/ports/history_store.h"
#include "app/ports/message_log.h"

namespace parley::fakes {

class FakeMessageLog final : public MessageLog, public HistoryStore {
 public:
  explicit FakeMessageLog(ClockPtr clock, std::string epoch = "fake-epoch")
      : clock_(std::move(clock)), epoch_(std::move(epoch)) {}

  void append(AppendRequest req, std::function<void(Result<Appended>)> done) override {
    Result<Appended> result = make_error(Errc::internal, "unset");
    std::function<void(std::vector<Message>)> sink;
    {
      std::lock_guard lock(mutex_);
      ++appends_;
      if (fail_) {
        result = *fail_;
      } else if (!claim_deadline(req.deadline, clock_->steady_ms())) {
        result = expired_error();
      } else if (auto dup = find_client_msg(req); dup) {
        result = Appended{*dup, true};
      } else {
        auto& room = rooms_[req.room];
        Message m{req.room,
                  static_cast<int64_t>(room.size()) + 1,
                  "fake-" + std::to_string(++next_msg_id_),
                  req.from,
                  std::move(req.text),
                  clock_->now_ms(),
                  req.client_msg_id};
        room.push_back(m);
        if (!m.client_msg_id.empty()) {
          client_ids_[{m.room, m.from, m.client_msg_id}] = m.seq;
        }
        sink = sink_;
        result = Appended{std::move(m), false};
      }
    }
    bool stored = result.ok() && !result->duplicate;
    std::vector<Message> committed;
    if (stored) committed.push_back(result->message);
    done(std::move(result));
    if (stored && sink) sink(std::move(committed));
  }

  // HistoryStore
  void read_after(std::string room, int64_t after, int limit,
                  std::function<void(Result<Page>)> done) override {
    Result<Page> result = Page{};
    {
      std::lock_guard lock(mutex_);
      if (fail_) {
        result = *fail_;
      } else if (auto it = rooms_.find(room); it != rooms_.end()) {
        for (const auto& m : it->second) {
          if (m.seq <= after) continue;
          if (static_cast<int>(result->messages.size()) == limit) {
            result->has_more = true;
            break;
          }
          result->messages.push_back(m);
        }
      }
    }
    done(std::move(result));
  }

  void read_before(std::string room, int64_t before, int limit,
                   std::function<void(Result<Page>)> done) override {
    Result<Page> result = Page{};
    {
      std::lock_guard lock(mutex_);
      if (fail_) {
        result = *fail_;
      } else if (auto it = rooms_.find(room); it != rooms_.end()) {
        const auto& all = it->second;
        // Seqs are 1..size, so message seq s sits at index s - 1.
        int64_t end = before > 0 ? std::min<int64_t>(before - 1, all.size()) : all.size();
        int64_t begin = std::max<int64_t>(0, end - limit);
        result->messages.assign(all.begin() + begin, all.begin() + end);
        result->has_more = begin > 0;
      }
    }
    done(std::move(result));
  }

  void head(std::string room, std::function<void(Result<int64_t>)> done) override {
    Result<int64_t> result = int64_t{0};
    {
      std::lock_guard lock(mutex_);
      if (fail_) {
        result = *fail_;
      } else if (auto it = rooms_.find(room); it != rooms_.end()) {
        result = static_cast<int64_t>(it->second.size());
      }
    }
    done(std::move(result));
  }

  void on_committed(std::function<void(std::vector<Message>)> sink) override {
    std::lock_guard lock(mutex_);
    sink_ = std::move(sink);
  }

  std::string epoch() const override { return epoch_; }

  // Test controls.
  std::vector<Message> messages(const std::string& room) const {
    std::lock_guard lock(mutex_);
    auto it = rooms_.find(room);
    return it == rooms_.end() ? std::vector<Message>{} : it->second;
  }
  int appends() const {
    std::lock_guard lock(mutex_);
    return appends_;
  }
  /// Every later call fails with @p e (nullopt: back to normal).
  void fail_with(std::optional<Error> e) {
    std::lock_guard lock(mutex_);
    fail_ = std::move(e);
  }

 private:
  std::optional<Message> find_client_msg(const AppendRequest& req) const {
    if (req.client_msg_id.empty()) return std::nullopt;
    auto it = client_ids_.find({req.room, req.from, req.client_msg_id});
    if (it == client_ids_.end()) return std::nullopt;
    return rooms_.at(req.room).at(static_cast<size_t>(it->second - 1));
  }

  ClockPtr clock_;
  std::string epoch_;
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<Message>> rooms_;
  std::map<std::tuple<std::string, std::string, std::string>, int64_t> client_ids_;
  std::function<void(std::vector<Message>)> sink_;
  std::optional<Error> fail_;
  int appends_ = 0;
  uint64_t next_msg_id_ = 0;
};

}  // namespace parley::fakes
