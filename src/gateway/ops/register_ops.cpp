#include "gateway/ops/ops.h"

namespace parley {

void register_ops(Admission& admission, OpContext& ctx) {
  auto op = [&ctx](void (*handler)(OpContext&, const CommandPtr&), bool barrier = false,
                   bool claims_deadline = false, bool heavy = false) {
    return Admission::Op{[&ctx, handler](const CommandPtr& cmd) { handler(ctx, cmd); }, barrier,
                         claims_deadline, heavy};
  };
  admission.add_op("join", op(join_op, false, true, true));
  admission.add_op("leave", op(leave_op));
  admission.add_op("send", op(send_op, false, true));
  admission.add_op("history", op(history_op, false, true, true));
  admission.add_op("create_room", op(create_room_op, true, true));
  admission.add_op("invite", op(invite_op, true, true));
  admission.add_op("dm", op(dm_op, true, true));
  admission.add_op("typing", op(typing_op, false, true));
  admission.add_op("presence", op(presence_op, false, true));
  admission.add_op("ping", op(ping_op));
}

}  // namespace parley
