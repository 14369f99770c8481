/-
The Lean side of the elaboration zygote's native shim (`Proofgate/native/zygote.c`; docs/audit-design.md,
section 4 "Zygote start", section 9 step 7): the `@[extern]` declarations `proofgate-elab --zygote`
(`Proofgate/Elab.lean`, `runZygote`) calls. Linked only into `proofgate-elab` (lakefile.lean,
`moreLinkObjs`); the interpreter cannot run these (no `@[implemented_by]`).

UNTESTED AGAINST REAL LEAN. It has never been compiled: no Lean toolchain runs where proofgate is
developed. The C side was compile-checked with gcc against declarations copied from lean.h and its
protocol driven by `proofgate.lean.zygote` with fake Lean runtime functions; the pairing of these
signatures with the C ones (boxed/unboxed scalars, borrowed `@&` arguments, the world argument)
is unchecked.

Read for the FFI conventions (stored versions of leanprover/lean4): `src/include/lean/lean.h`
(`UInt32`/`UInt8` passed unboxed as `uint32_t`/`uint8_t`, `UInt64` returned boxed through
`lean_box_uint64` inside the IO result, `ByteArray` a scalar array, `@&` a borrowed argument);
`src/runtime/io.cpp` (an `IO` extern takes the world as its last argument, e.g.
`lean_io_prim_handle_get_line(b_obj_arg h, obj_arg w)`). Used from memory, not read: the
`@[extern "sym"] opaque f : ... → IO α` form for an IO extern.
-/
namespace Proofgate.Zygote

/-- The process's thread count (`Threads:` of /proc/self/status). -/
@[extern "proofgate_zygote_threads"]
opaque threads : IO UInt32

/-- After the import: finalizes the task manager (its workers finish the queue and are joined),
stops the libuv loop thread (terminal), makes the process non-dumpable. The thread count left,
which must be 1 before `serve`. -/
@[extern "proofgate_zygote_prepare"]
opaque prepare : IO UInt32

/-- Serves fork commands on fd 3. Never returns in the zygote (exit 0 at the end of the channel,
exit 3 with a `zygote_unsafe` line on stderr when a fork would copy a multi-threaded process);
returns the request id in each child, confined (fds 3, 4, 5; seccomp; PR_SET_PDEATHSIG;
no_new_privs) and with a fresh task manager of `threads` workers (0: `LEAN_NUM_THREADS`, else the
core count). -/
@[extern "proofgate_zygote_serve"]
opaque serve (threads : UInt32) : IO UInt64

/-- fd 3 to its end, at most `max + 1` bytes (one more than allowed: the caller refuses it). -/
@[extern "proofgate_zygote_read_request"]
opaque readRequest (max : UInt32) : IO ByteArray

/-- All of `bytes` on `fd`. -/
@[extern "proofgate_zygote_write"]
opaque writeFd (fd : UInt32) (bytes : @& ByteArray) : IO Unit

/-- `_exit(code)`: no atexit handlers, no runtime finalization (a child's runtime is a copy). -/
@[extern "proofgate_zygote_exit"]
opaque exit (code : UInt8) : IO Unit

/-- The descriptors a child answers on (the shim places them). -/
def requestFd : UInt32 := 3
def replyFd : UInt32 := 4
def exportFd : UInt32 := 5

/-- The export pipe as a path the export writer (`Proofgate.Export.exportFile`, which opens a
path) can open: the child's own fd 5 reopened through procfs (a pipe: no truncation, no file
created; allowed to a non-dumpable process for itself). -/
def exportPath : System.FilePath := "/proc/self/fd/5"

end Proofgate.Zygote
