package dev.vmlet.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import picocli.CommandLine.Option;

/** --format: a table for people (the default) or JSON for scripts (the API's own field names). */
final class OutputFormat {
  enum Kind {
    table,
    json
  }

  @Option(names = "--format", defaultValue = "table", paramLabel = "table|json",
      description = "Output as a table (default) or as JSON for scripts.")
  Kind format;

  boolean json() {
    return format == Kind.json;
  }

  /** Prints the message as JSON, or runs the table printer. */
  void print(MessageOrBuilder message, Runnable table) {
    if (json()) {
      System.out.println(toJson(message));
    } else {
      table.run();
    }
  }

  /** One JSON object on one line, for streams (JSON Lines). */
  static String toJsonLine(MessageOrBuilder message) {
    try {
      return JsonFormat.printer().alwaysPrintFieldsWithNoPresence().omittingInsignificantWhitespace().print(message);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("cannot print " + message.getClass().getSimpleName() + " as JSON", e);
    }
  }

  static String toJson(MessageOrBuilder message) {
    try {
      return JsonFormat.printer().alwaysPrintFieldsWithNoPresence().print(message);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("cannot print " + message.getClass().getSimpleName() + " as JSON", e);
    }
  }
}
