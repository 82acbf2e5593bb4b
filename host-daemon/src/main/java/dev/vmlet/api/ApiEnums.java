package dev.vmlet.api;

import com.google.protobuf.ProtocolMessageEnum;
import dev.vmlet.proto.v1.AgentPort;
import dev.vmlet.proto.v1.Accel;
import dev.vmlet.proto.v1.Firmware;
import dev.vmlet.proto.v1.GuestOs;
import dev.vmlet.proto.v1.ShareType;
import dev.vmlet.proto.v1.Machine;
import dev.vmlet.proto.v1.Protocol;
import dev.vmlet.proto.v1.RestartPolicy;
import dev.vmlet.spec.VmException;
import java.util.Locale;

/**
 * The closed sets of the API (vmlet.v1 enums such as {@code ACCEL_TCG}) as the words the domain and
 * people use ({@code tcg}). An enum value is its type's prefix and the word, upper case, so one rule
 * covers every enum; the zero value ({@code *_UNSPECIFIED}) is the empty word, which the domain reads
 * as its default. A number this daemon does not know (a newer client's value) is INVALID_ARGUMENT,
 * never taken as the default.
 */
public final class ApiEnums {
  private ApiEnums() {}

  /** The word of a value: {@code ACCEL_TCG} is "tcg", {@code ACCEL_UNSPECIFIED} is "". */
  public static String word(ProtocolMessageEnum value) {
    String name = ((Enum<?>) value).name();
    if (name.equals("UNRECOGNIZED")) {
      return "unknown";
    }
    String prefix = prefix(value.getDescriptorForType().getName());
    if (value.getNumber() == 0 || !name.startsWith(prefix)) {
      return "";
    }
    return name.substring(prefix.length()).toLowerCase(Locale.ROOT);
  }

  /** What a person reads: the word, or {@code -} for the zero value. */
  public static String show(ProtocolMessageEnum value) {
    String w = word(value);
    return w.isEmpty() ? "-" : w;
  }

  public static Accel accel(String word) {
    return parse(Accel.class, "accel", word);
  }

  public static Machine machine(String word) {
    return parse(Machine.class, "machine", word);
  }

  public static Firmware firmware(String word) {
    return parse(Firmware.class, "firmware", word);
  }

  public static AgentPort agentPort(String word) {
    return parse(AgentPort.class, "agent_port", word);
  }

  public static GuestOs os(String word) {
    return parse(GuestOs.class, "os", word);
  }

  public static ShareType shareType(String word) {
    return parse(ShareType.class, "share type", word);
  }

  /** A {@link dev.vmlet.spec.RestartPolicy#flag()} word ("on-failure") as the API's value. */
  public static RestartPolicy restart(String flag) {
    return parse(RestartPolicy.class, "restart", flag.replace('-', '_'));
  }

  public static Protocol protocol(String word) {
    return parse(Protocol.class, "protocol", word);
  }

  /** The word of a request's value, refusing a number this daemon does not know. */
  static String known(String field, ProtocolMessageEnum value, int number) {
    if (((Enum<?>) value).name().equals("UNRECOGNIZED")) {
      throw VmException.invalid(field + " has the value number " + number
          + ", which this daemon does not know; upgrade the daemon or leave that option out");
    }
    return word(value);
  }

  private static <E extends Enum<E> & ProtocolMessageEnum> E parse(Class<E> type, String field, String word) {
    E[] values = type.getEnumConstants();
    if (word == null || word.isEmpty()) {
      return values[0];
    }
    String name = prefix(values[0].getDescriptorForType().getName()) + word.toUpperCase(Locale.ROOT);
    for (E e : values) {
      // The zero value is "say nothing" (the empty word), not a word of its own.
      if (e.name().equals(name) && e.getNumber() != 0) {
        return e;
      }
    }
    throw VmException.invalid(field + " must be one of " + words(values) + ", got '" + word + "'");
  }

  private static String words(ProtocolMessageEnum[] values) {
    StringBuilder b = new StringBuilder();
    for (ProtocolMessageEnum v : values) {
      String w = ((Enum<?>) v).name().equals("UNRECOGNIZED") ? "" : word(v);
      if (!w.isEmpty()) {
        b.append(b.length() == 0 ? "" : ", ").append(w);
      }
    }
    return b.toString();
  }

  /** AgentPort is AGENT_PORT_: the upper snake case of the type's name and an underscore. */
  private static String prefix(String typeName) {
    return typeName.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toUpperCase(Locale.ROOT) + "_";
  }
}
