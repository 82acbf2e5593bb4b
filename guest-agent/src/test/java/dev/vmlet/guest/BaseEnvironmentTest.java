package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The environment every exec starts from is made once per SMBIOS settings, and anew for others. */
class BaseEnvironmentTest {
  @Test
  void of_theSameSettings_isTheSameMap_withTheAgentsOwnVariables() {
    Map<String, String> first = ExecRunner.BaseEnvironment.of(SmbiosSettings.NONE);
    assertThat(ExecRunner.BaseEnvironment.of(SmbiosSettings.NONE)).isSameAs(first);
    assertThat(first).containsAllEntriesOf(System.getenv());
  }

  @Test
  void of_otherSettings_hasTheirProxy() {
    Map<String, String> none = ExecRunner.BaseEnvironment.of(SmbiosSettings.NONE);
    Map<String, String> proxied = ExecRunner.BaseEnvironment.of(SmbiosSettings.parse(List.of("vmlet.http_proxy=http://proxy:3128")));
    assertThat(proxied).isNotSameAs(none).containsEntry("http_proxy", "http://proxy:3128");
  }
}
