package dev.vmlet.at;

import dev.vmlet.agent.AgentFiles;
import dev.vmlet.agent.AgentLink;
import dev.vmlet.at.PipelineRunner.Member;
import dev.vmlet.at.PipelineRunner.Output;
import dev.vmlet.at.PipelineRunner.Result;
import dev.vmlet.common.at.Redirect;
import dev.vmlet.common.at.Stage;
import dev.vmlet.proto.agent.v1.FileWriteStart;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A control line ({@code @web1 --pause}, {@code @role=web --snapshot save before}): the action on
 * each VM in turn. On one VM its error is the line's; on a selector's VMs every VM is tried, the
 * failures are printed on stderr with the VM's name, and the line exits with 1 naming the first.
 * What the actions print goes to stdout or to the stage's {@code >}/{@code >>} file.
 */
final class ControlRunner {
  private ControlRunner() {}

  static Result run(Stage s, List<Member> members, Map<Redirect, AgentLink> fileLinks, Targets targets, Output out,
      long timeoutSeconds) throws IOException {
    boolean fan = s.target().isSelector();
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    String failure = null;
    for (Member m : members) {
      String text;
      try {
        text = targets.control(m.vm(), s.control());
      } catch (IOException | RuntimeException e) {
        if (!fan) {
          throw e;
        }
        out.stderr(0, m.vm(), (m.vm() + ": " + e.getMessage() + "\n").getBytes(StandardCharsets.UTF_8));
        failure = failure != null ? failure : PipelineRunner.describe(0, s, m.vm()) + " failed: " + e.getMessage();
        continue;
      }
      byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
      if (fan) {
        LinePrefixer prefix = new LinePrefixer(m.vm());
        printed.writeBytes(prefix.add(bytes));
        printed.writeBytes(prefix.flush());
      } else {
        printed.writeBytes(bytes);
      }
    }
    Redirect r = PipelineRunner.find(s, Redirect.Kind.OUT, Redirect.Kind.APPEND);
    if (r == null) {
      if (printed.size() > 0) {
        out.stdout(printed.toByteArray());
      }
    } else {
      String vm = r.target() != null ? r.target().name() : s.target().name();
      AgentLink to = r.target() != null ? fileLinks.get(r) : targets.agent(vm);
      FileWriteStart start = FileWriteStart.newBuilder().setPath(r.path()).setAppend(r.kind() == Redirect.Kind.APPEND).build();
      try {
        AgentFiles.push(to, start, new ByteArrayInputStream(printed.toByteArray()), () -> null, Duration.ofSeconds(timeoutSeconds));
      } catch (IOException e) {
        throw new IOException("writing @" + vm + " " + r.path() + ": " + e.getMessage(), e);
      }
    }
    int code = failure == null ? 0 : 1;
    return new Result(code, List.of(code), failure, 0);
  }
}
