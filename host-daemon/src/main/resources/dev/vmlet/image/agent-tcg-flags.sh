# Sourced by the agent bundle's agent.sh before the JVM starts; sets TCG_FLAGS, the JVM flags for a
# guest whose CPU QEMU emulates (TCG, no KVM), empty elsewhere.
#
# Under TCG two of the JVM's intrinsics cost more than the Java code they replace, and every byte
# of a file transfer goes through both: SHA-256's (AVX2 code, which TCG emulates vector op by vector
# op) ran at 3.5 MB/s against 14.3 MB/s for the JDK's own Java code compiled by C2, and CRC32C's
# (crc32 and PCLMUL instructions) at 39 against 128 MB/s, in one Debian guest with -cpu max
# (docs/benchmarks.md, issue 15, "the digest alone"). Under KVM they run natively and stay on.
# -XX:UseAVX=0 keeps the JIT's own code (array copies, loops it vectorises) off AVX as well: in
# one run in turns the agent moved 256 MiB 12 % faster each way with 10 % less guest CPU per MiB
# with it (docs/benchmarks.md, issue 15, "native SHA-256"); SSE code stays, which TCG emulates at
# less cost. -XX:TieredStopAtLevel=1: C1 alone, no C2. C2's compiles are emulated too and did not
# settle: in a warm agent, a second 256 MiB push after an exec still cost 9-14 ms of guest CPU per
# MiB in C2 (its code of the frame and protobuf paths was thrown out and compiled again). With C1
# alone, in turns in one Debian guest, pushes went 1.28x and pulls 1.14x as fast with a quarter
# less guest CPU per MiB and 11 MiB less resident memory, and an exec of 1 MiB of output took 0.47
# of qemu-guest-agent's time instead of 0.62 (docs/benchmarks.md, issue 15, "C1 alone under TCG");
# the digest, the heaviest part, is libcrypto's either way.
# -Dvmlet.agent.tcg=true tells the agent the same for the guest's libcrypto, which it loads for
# SHA-256 with its vector code masked under TCG (NativeSha256).
#
# TCG: the machine is QEMU's (DMI) and the kernel has no kvm-clock, KVM's paravirtual clock,
# which KVM always offers. Two reads, no process: this runs at every agent start.
# VMLET_AGENT_SYS replaces /sys (tests).
TCG_FLAGS=""
_sys=${VMLET_AGENT_SYS:-/sys}
_vendor=""
_clocks=""
[ -r "$_sys/class/dmi/id/sys_vendor" ] && read -r _vendor < "$_sys/class/dmi/id/sys_vendor"
[ -r "$_sys/devices/system/clocksource/clocksource0/available_clocksource" ] \
  && read -r _clocks < "$_sys/devices/system/clocksource/clocksource0/available_clocksource"
case "$_vendor| $_clocks " in
  "QEMU|"*" kvm-clock "*) ;;
  "QEMU|"*) TCG_FLAGS="-XX:TieredStopAtLevel=1 -XX:UseAVX=0 -XX:-UseSHA -XX:+UnlockDiagnosticVMOptions -XX:-UseCRC32CIntrinsics -Dvmlet.agent.tcg=true" ;;
esac
unset _sys _vendor _clocks
