#!/usr/bin/env bash
# Puts the guest agent and a Java runtime trimmed to what it needs into DEST: DEST/runtime (jlink),
# DEST/vmlet-agent.jar (with the native libraries of Linux x86-64 only), DEST/agent.jsa (one
# class-data archive of the JDK's and the agent's start-up classes, when the JDK can make one) and
# DEST/agent.sh, which starts the agent from DEST with the right flags.
# Usage: build-agent-runtime.sh AGENT_JAR DEST [c1|tiered]. Used by the micro image and the agent bundle.
# c1 (the default): C1 alone, the shortest start; tiered: C2 as well, with two compiler threads, for
# guests where the agent moves files (C2 has the SHA-256 intrinsics, C1 has not).
set -euo pipefail

AGENT_JAR=$1
DEST=$2
JIT=${3:-c1}
die() { echo "error: $*" >&2; exit 1; }

if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/jlink ]]; then
  JDK=$JAVA_HOME
else
  JDK=$(dirname "$(dirname "$(readlink -f "$(command -v javac || command -v jlink)")")")
fi
[[ -x $JDK/bin/jlink ]] || die "no jlink in $JDK; run: apt-get install -y openjdk-17-jdk-headless"

echo "jlink runtime from $JDK"
mkdir -p "$DEST"
# No --generate-cds-archive: the JDK's default archive (11.7 MB, made with G1 and its heap objects,
# which the agent's Serial GC ignores) is replaced by agent.jsa below, which holds its classes too.
"$JDK/bin/jlink" --add-modules java.base,java.logging,jdk.unsupported --strip-debug --no-man-pages \
  --no-header-files --compress=2 --output "$DEST/runtime"
# libjvm.so's symbol table (4 of its 23 MB) serves only crash reports' native frames; the JVM links
# through its dynamic symbols. A micro guest holds the runtime in RAM and its kernel unpacks it at
# each boot. (Before the class archive below is made; jlink's copy, not the JDK's, is stripped.)
if command -v strip >/dev/null; then
  strip --strip-unneeded "$DEST/runtime/lib/server/libjvm.so"
else
  echo "warning: no strip (binutils): libjvm.so keeps its symbol table"
fi
# The agent jar without JNA's and jSerialComm's native libraries for other systems (2.5 of its 6 MB:
# Windows, macOS, the BSDs, Solaris, AIX, Android, other Linux CPUs): this runtime runs on Linux
# x86-64 only, and a micro guest's kernel unpacks every byte of its initramfs at each boot.
slim=$(mktemp -d)
trap 'rm -rf "$slim"' EXIT
(cd "$slim" && "$JDK/bin/jar" xf "$(readlink -f "$AGENT_JAR")")
find "$slim" -type f \( -name '*.so' -o -name '*.dll' -o -name '*.dylib' -o -name '*.jnilib' -o -name '*.a' \) \
  ! -path "$slim/com/sun/jna/linux-x86-64/*" ! -path "$slim/Linux/x86_64/*" -delete
# The two the agent loads (posix_spawn through JNA; the serial transport): a new layout of either
# library must fail the build, not leave an agent that cannot load its natives.
for lib in com/sun/jna/linux-x86-64/libjnidispatch.so Linux/x86_64/libjSerialComm.so; do
  [[ -f $slim/$lib ]] || die "the agent jar has no $lib; JNA or jSerialComm changed their layout, see build-agent-runtime.sh"
done
"$JDK/bin/jar" --create --file "$DEST/vmlet-agent.jar" --manifest "$slim/META-INF/MANIFEST.MF" -C "$slim" .
# JNA's own library also unpacked beside the jar, in DEST/lib, for JNA_FLAGS below.
mkdir -p "$DEST/lib"
cp "$slim/com/sun/jna/linux-x86-64/libjnidispatch.so" "$DEST/lib/"
rm -rf "$slim"
# The class path is relative, so the archive made here is valid wherever DEST ends up.
# c1: the compiler thread at nice 19 (ThreadPriorityPolicy=1 sets the threads' OS priorities: raising
# a nice needs no privilege, so this holds for an agent that is not root too, after a JVM warning).
# With one vCPU under TCG, C1 compiling for an exec took the vCPU from that exec; at nice 19 it
# compiles in the time the agent waits for the host instead (docs/benchmarks.md, issue 15, "exec of
# true in the micro VM"). The agent's threads keep nice 0 (Java's normal priority); the JVM's own
# service threads get their Java priorities' (the VM thread -4) where the agent is root (micro).
case $JIT in
  c1) JIT_FLAGS="-XX:TieredStopAtLevel=1 -XX:ThreadPriorityPolicy=1 -XX:CompilerThreadPriority=19" ;;
  tiered) JIT_FLAGS="-XX:CICompilerCount=2" ;;
  *) die "JIT must be c1 or tiered, got '$JIT'" ;;
esac
# ArchiveRelocationMode=0: map the class-data archives at the address they were made for, as JDK 17
# did before 17.0.x changed its default to 1 (always map them elsewhere, for address-space layout
# randomisation of the archive). Relocating rewrote every pointer of both archives at each start:
# under TCG that was half of the JVM's own start (0.31 against 0.17 s of instruction-counted guest
# time), and the rewritten pages were the agent's, 9 MiB of anonymous memory instead of shared file
# pages. The JVM still relocates when that address is taken. Left out for a JDK without the flag.
RELOCATION_FLAGS="-XX:+UnlockDiagnosticVMOptions -XX:ArchiveRelocationMode=0"
"$DEST/runtime/bin/java" $RELOCATION_FLAGS -version >/dev/null 2>&1 || RELOCATION_FLAGS=""
# JNA's start, which the agent's native set-up pays under TCG (ExecRunner.SpawnLoad), without two
# detours: jna.boot.library.path loads its library from DEST/lib (relative: agent.sh runs in DEST)
# instead of copying it out of the jar into a temporary file at every start (File.createTempFile,
# whose SecureRandom loads the JDK's security providers); jna.platform.library.path names the
# system's library directories instead of JNA running `/sbin/ldconfig -p` as a process to find them.
# libc is the process's own to JNA, libcrypto.so.3 a versioned name the dynamic linker finds by its
# cache; either way JNA falls back to the jar's copy and the linker's own search.
JNA_FLAGS="-Djna.boot.library.path=lib -Djna.platform.library.path=/usr/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu:/usr/lib64:/lib64:/usr/lib:/lib"
JVM_FLAGS="-XX:+UseSerialGC $JIT_FLAGS -XX:-UsePerfData -Xss512k -Xmx96m $RELOCATION_FLAGS -Djdk.lang.Process.launchMechanism=VFORK $JNA_FLAGS"
# One static archive of the classes the warm-up loads and those of the JDK's default class list
# (lib/classlist, what jlink's default archive held, so no class archived before is now read from the
# runtime's modules), instead of the JDK's archive plus a dynamic one of the agent's on top: 17.9 MB
# instead of 11.7 + 7.7 MB, and one archive to map at start.
if (cd "$DEST" && runtime/bin/java $JVM_FLAGS -Xshare:off -XX:DumpLoadedClassList=agent.classlist \
      -cp vmlet-agent.jar dev.vmlet.guest.AgentMain --warm-up >/dev/null 2>&1 \
    && cat agent.classlist runtime/lib/classlist > all.classlist 2>/dev/null \
    && runtime/bin/java $JVM_FLAGS -Xshare:dump -XX:SharedClassListFile=all.classlist -XX:SharedArchiveFile=agent.jsa \
      -cp vmlet-agent.jar >/dev/null 2>&1); then
  echo "agent class archive $(du -h "$DEST/agent.jsa" | cut -f1)"
  CDS_FLAGS="-XX:SharedArchiveFile=agent.jsa"
else
  echo "warning: no agent class archive (the agent starts without one)"
  rm -f "$DEST/agent.jsa"
  CDS_FLAGS=""
fi
# The class lists served the dump only.
rm -f "$DEST/agent.classlist" "$DEST/all.classlist" "$DEST/runtime/lib/classlist"
# tiered: under TCG, C1 alone and two intrinsics off (agent-tcg-flags.sh says which and why). Not for c1: C1 has
# no SHA-256 intrinsic, and the micro image's start was not measured with the CRC32C one off.
TCG_SOURCE=""
if [[ $JIT == tiered ]]; then
  cp "$(dirname "$0")/agent-tcg-flags.sh" "$DEST/agent-tcg-flags.sh"
  TCG_SOURCE=". ./agent-tcg-flags.sh"
fi
# "$@" passes the agent's own options (e.g. --instance-id) through.
cat > "$DEST/agent.sh" <<AGENT
#!/bin/sh
cd "\$(dirname "\$0")"
# When the JVM starts, on the boot clock, for the agent's Hello (the daemon's boot breakdown).
[ -r /proc/uptime ] && read -r VMLET_AGENT_EXEC_UPTIME _ < /proc/uptime && export VMLET_AGENT_EXEC_UPTIME
TCG_FLAGS=""
$TCG_SOURCE
exec runtime/bin/java $JVM_FLAGS \$TCG_FLAGS -Xshare:auto $CDS_FLAGS -cp vmlet-agent.jar dev.vmlet.guest.AgentMain "\$@"
AGENT
chmod +x "$DEST/agent.sh"
