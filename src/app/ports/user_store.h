#pragma once
// Accounts: user names and their password hashes.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "domain/result.h"

namespace parley {

class UserStore {
 public:
  virtual ~UserStore() = default;

  /// Creates a user; `conflict` if the name is taken.
  virtual void create_user(std::string name, std::string password_hash,
                           std::function<void(Status)> done) = 0;

  /// The stored password hash of @p name, or nullopt if no such user.
  virtual void find_user(std::string name,
                         std::function<void(Result<std::optional<std::string>>)> done) = 0;
};

using UserStorePtr = std::shared_ptr<UserStore>;

}  // namespace parley
