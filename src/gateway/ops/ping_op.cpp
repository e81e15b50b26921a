#include "gateway/ops/ops.h"

namespace parley {

void ping_op(OpContext& ctx, const CommandPtr& cmd) {
  ctx.replies.ok(cmd);
}

}  // namespace parley
