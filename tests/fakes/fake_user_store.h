#pragma once
// UserStore in memory. Answers synchronously, on the caller's thread.
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "app/ports/user_store.h"

namespace parley::fakes {

class FakeUserStore final : public UserStore {
 public:
  void create_user(std::string name, std::string password_hash,
                   std::function<void(Status)> done) override {
    Status st = Ok{};
    {
      std::lock_guard lock(mutex_);
      if (fail_) {
        st = *fail_;
      } else if (!users_.emplace(name, std::move(password_hash)).second) {
        st = make_error(Errc::conflict, "user exists: " + name);
      }
    }
    done(std::move(st));
  }

  void find_user(std::string name,
                 std::function<void(Result<std::optional<std::string>>)> done) override {
    Result<std::optional<std::string>> found = std::optional<std::string>();
    {
      std::lock_guard lock(mutex_);
      ++finds_;
      if (fail_) {
        found = *fail_;
      } else if (auto it = users_.find(name); it != users_.end()) {
        found = std::optional<std::string>(it->second);
      }
    }
    done(std::move(found));
  }

  // Test controls.
  void put(const std::string& name, const std::string& hash) {
    std::lock_guard lock(mutex_);
    users_[name] = hash;
  }
  std::optional<std::string> hash_of(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = users_.find(name);
    return it == users_.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  size_t size() const {
    std::lock_guard lock(mutex_);
    return users_.size();
  }
  int finds() const {
    std::lock_guard lock(mutex_);
    return finds_;
  }
  /// Every later call fails with @p e (nullopt: back to normal).
  void fail_with(std::optional<Error> e) {
    std::lock_guard lock(mutex_);
    fail_ = std::move(e);
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> users_;
  std::optional<Error> fail_;
  int finds_ = 0;
};

}  // namespace parley::fakes
