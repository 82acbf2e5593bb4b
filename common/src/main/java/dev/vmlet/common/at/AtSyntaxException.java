package dev.vmlet.common.at;

/** A command line that does not parse: what is wrong, and the 1-based column where it is. */
public final class AtSyntaxException extends IllegalArgumentException {
  private final int column;

  public AtSyntaxException(int column, String message) {
    super("column " + column + ": " + message);
    this.column = column;
  }

  public int column() {
    return column;
  }
}
