package dev.vmlet.vm;

import dev.vmlet.proto.agent.v1.Hello;
import java.nio.file.Path;

/** A consistent snapshot of one VM for readers: the record plus what is known live. */
public record VmView(VmRecord record, Hello hello, long agentReadyAtMs, Path consoleLog, long cloudInitDoneAtMs,
    long sshReadyAtMs, Path sshIdentity, long consoleFirstOutputAtMs, BootBreakdown boot) {}
