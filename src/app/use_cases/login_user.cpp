#include "app/use_cases/login_user.h"

#include "domain/names.h"

namespace parley {

static_assert(UseCase<LoginUser>);

void LoginUser::handle(const Command& cmd, Done<Reply> done) {
  auto refuse = [] { return make_error(Errc::unauthenticated, "wrong user name or password"); };
  if (!valid_user_name(cmd.user) || cmd.password.size() > 1024) return done(refuse());
  s_.users->find_user(cmd.user, [this, cmd, refuse, done = std::move(done)](auto found) mutable {
    if (!found) return done(found.error());
    if (!found->has_value()) return done(refuse());
    s_.blocking->run([this, cmd, refuse, hash = **found, done = std::move(done)] {
      if (!s_.hasher->verify(hash, cmd.password)) return done(refuse());
      int64_t now = s_.clock->now_ms();
      done(Reply{s_.tokens->issue(cmd.user, now, now + s_.limits.token_ttl_ms)});
    });
  });
}

}  // namespace parley
