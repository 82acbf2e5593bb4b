package dev.vmlet.common.at;

/**
 * A redirect of one stage.
 *
 * @param kind what is redirected
 * @param target where the file is; null: the stage's own target (and always null for ERR_TO_OUT)
 * @param path the file; null for ERR_TO_OUT
 * @param column 1-based column of the operator
 */
public record Redirect(Kind kind, Target target, String path, int column) {
  public enum Kind {
    /** {@code >}: stdout to a file, replacing it. */
    OUT,
    /** {@code >>}: stdout appended to a file. */
    APPEND,
    /** {@code <}: stdin from a file. */
    IN,
    /** {@code 2>}: stderr to a file. */
    ERR,
    /** {@code 2>&1}: stderr into stdout. */
    ERR_TO_OUT
  }
}
