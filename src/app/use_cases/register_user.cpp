#include "app/use_cases/register_user.h"

#include "domain/names.h"

namespace parley {

static_assert(UseCase<RegisterUser>);

void RegisterUser::handle(const Command& cmd, Done<Reply> done) {
  if (!valid_user_name(cmd.user)) {
    return done(make_error(Errc::bad_request, "user names are 1-32 chars of [A-Za-z0-9_.-]"));
  }
  if (!valid_password(cmd.password)) {
    return done(make_error(Errc::bad_request, "passwords are 8-1024 bytes"));
  }
  s_.blocking->run([this, cmd, done = std::move(done)]() mutable {
    std::string hash = s_.hasher->hash(cmd.password);
    s_.users->create_user(cmd.user, hash,
                          [this, user = cmd.user, done = std::move(done)](Status st) {
                            if (!st) return done(st.error());
                            int64_t now = s_.clock->now_ms();
                            done(Reply{s_.tokens->issue(user, now, now + s_.limits.token_ttl_ms)});
                          });
  });
}

}  // namespace parley
