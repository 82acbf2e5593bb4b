package dev.vmlet.common.at;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Parses one line of the @target language (docs/at-syntax.md): stages joined by {@code |}, each
 * {@code @TARGET} followed by a command or a control flag, then redirects. Words are split as POSIX
 * sh does (single quotes, double quotes, backslash); operators count only unquoted. Every error
 * names the 1-based column where it is.
 */
public final class AtParser {
  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
  private static final Pattern LABEL = Pattern.compile("[A-Za-z0-9._-]{1,63}");

  private AtParser() {}

  enum Kind { WORD, PIPE, OUT, APPEND, IN, ERR, ERR_TO_OUT }

  /**
   * A token: for a WORD its value (quotes removed), whether it began with an unquoted '@', and the
   * span of its source text.
   */
  record Token(Kind kind, String value, boolean at, int start, int end) {
    int column() {
      return start + 1;
    }
  }

  public static Pipeline parse(String line) {
    List<Token> tokens = lex(line);
    if (tokens.isEmpty()) {
      throw new AtSyntaxException(1, "empty line: write @TARGET COMMAND, e.g. @web1 uptime");
    }
    List<Stage> stages = new ArrayList<>();
    int i = 0;
    while (true) {
      Token first = tokens.get(i);
      if (first.kind() == Kind.PIPE) {
        throw new AtSyntaxException(first.column(), "empty stage: a stage is @TARGET COMMAND between pipes");
      }
      if (first.kind() != Kind.WORD || !first.at()) {
        throw new AtSyntaxException(first.column(), "a stage starts with @TARGET (e.g. @web1 ls -la), not '" + text(line, first) + "'");
      }
      Target target = target(first);
      i++;
      int wordsFrom = i;
      while (i < tokens.size() && tokens.get(i).kind() == Kind.WORD) {
        i++;
      }
      List<Token> words = tokens.subList(wordsFrom, i);
      List<Redirect> redirects = new ArrayList<>();
      while (i < tokens.size() && tokens.get(i).kind() != Kind.PIPE) {
        Token op = tokens.get(i++);
        if (op.kind() == Kind.WORD) {
          throw new AtSyntaxException(op.column(), "'" + op.value() + "' comes after a redirect: put redirects after the command");
        }
        if (op.kind() == Kind.ERR_TO_OUT) {
          redirects.add(new Redirect(Redirect.Kind.ERR_TO_OUT, null, null, op.column()));
          continue;
        }
        Target where = null;
        if (i < tokens.size() && tokens.get(i).kind() == Kind.WORD && tokens.get(i).at()) {
          where = target(tokens.get(i++));
        }
        if (i >= tokens.size() || tokens.get(i).kind() != Kind.WORD) {
          throw new AtSyntaxException(op.column(), "'" + text(line, op) + "' needs a path (e.g. > @host /tmp/out.txt)");
        }
        redirects.add(new Redirect(redirectKind(op.kind()), where, tokens.get(i++).value(), op.column()));
      }
      if (words.isEmpty()) {
        throw new AtSyntaxException(first.end() + 1, "nothing to run on " + target + ": give a command or a control flag (--info)");
      }
      Control control = null;
      List<String> argv = new ArrayList<>();
      String raw = "";
      if (words.get(0).value().startsWith("--") && !quoted(line, words.get(0))) {
        control = control(words);
      } else {
        for (Token w : words) {
          argv.add(w.value());
        }
        raw = line.substring(words.get(0).start(), words.get(words.size() - 1).end());
      }
      stages.add(new Stage(target, argv, raw, control, redirects));
      if (i >= tokens.size()) {
        break;
      }
      Token pipe = tokens.get(i++);
      if (i >= tokens.size()) {
        throw new AtSyntaxException(pipe.column(), "empty stage after '|': give @TARGET COMMAND");
      }
    }
    if (stages.size() > 1) {
      for (Stage s : stages) {
        if (s.isControl()) {
          throw new AtSyntaxException(s.target().column(), "--" + s.control().action() + " stands alone on its line, not in a pipeline");
        }
      }
    }
    return new Pipeline(stages);
  }

  private static boolean quoted(String line, Token t) {
    return line.charAt(t.start()) != '-';
  }

  private static Redirect.Kind redirectKind(Kind k) {
    return switch (k) {
      case OUT -> Redirect.Kind.OUT;
      case APPEND -> Redirect.Kind.APPEND;
      case IN -> Redirect.Kind.IN;
      case ERR -> Redirect.Kind.ERR;
      default -> throw new IllegalStateException(k.toString());
    };
  }

  private static Control control(List<Token> words) {
    Token flag = words.get(0);
    String action = flag.value().substring(2);
    if (!Control.ACTIONS.contains(action)) {
      throw new AtSyntaxException(flag.column(), "unknown control flag '" + flag.value() + "'; known: --pause, --resume, --start, --stop,"
          + " --info, --snapshot save|restore|list|delete NAME");
    }
    if (!action.equals("snapshot")) {
      if (words.size() > 1) {
        throw new AtSyntaxException(words.get(1).column(), "--" + action + " takes no arguments, got '" + words.get(1).value() + "'");
      }
      return new Control(action, null, null);
    }
    if (words.size() < 2 || !Control.SNAPSHOT_ACTIONS.contains(words.get(1).value())) {
      int col = words.size() < 2 ? flag.end() + 1 : words.get(1).column();
      throw new AtSyntaxException(col, "--snapshot needs save, restore, list or delete");
    }
    String sub = words.get(1).value();
    boolean named = !sub.equals("list");
    if (named && words.size() < 3) {
      throw new AtSyntaxException(words.get(1).end() + 1, "--snapshot " + sub + " needs a snapshot name");
    }
    int expected = named ? 3 : 2;
    if (words.size() > expected) {
      throw new AtSyntaxException(words.get(expected).column(), "unexpected '" + words.get(expected).value() + "' after --snapshot " + sub);
    }
    return new Control(action, sub, named ? words.get(2).value() : null);
  }

  private static Target target(Token t) {
    String s = t.value().substring(1);
    int col = t.column();
    if (s.isEmpty()) {
      throw new AtSyntaxException(col, "'@' needs a target: a VM name, node/name, or key=value");
    }
    int eq = s.indexOf('=');
    if (eq >= 0) {
      String key = s.substring(0, eq);
      String value = s.substring(eq + 1);
      if (!LABEL.matcher(key).matches() || !LABEL.matcher(value).matches()) {
        throw new AtSyntaxException(col, "label selector '@" + s + "' must be @key=value with letters, digits, '.', '_' or '-'");
      }
      return new Target(null, null, key, value, col);
    }
    int slash = s.indexOf('/');
    String node = slash < 0 ? null : s.substring(0, slash);
    String name = slash < 0 ? s : s.substring(slash + 1);
    if (node != null && !NAME.matcher(node).matches()) {
      throw new AtSyntaxException(col, "node '" + node + "' is not a valid name (lower-case letters, digits and '-')");
    }
    if (!NAME.matcher(name).matches()) {
      throw new AtSyntaxException(col, "target '" + name + "' is not a valid VM name (lower-case letters, digits and '-')");
    }
    return new Target(node, name, null, null, col);
  }

  private static String text(String line, Token t) {
    return line.substring(t.start(), t.end());
  }

  /** Splits a line into words and operators, as POSIX sh quotes and escapes. */
  static List<Token> lex(String line) {
    List<Token> out = new ArrayList<>();
    int i = 0;
    int n = line.length();
    while (i < n) {
      char c = line.charAt(i);
      if (c == ' ' || c == '\t') {
        i++;
        continue;
      }
      int start = i;
      switch (c) {
        case '|' -> {
          if (i + 1 < n && line.charAt(i + 1) == '|') {
            throw new AtSyntaxException(i + 1, "'||' is not supported; a line is one pipeline joined by |");
          }
          out.add(new Token(Kind.PIPE, "|", false, start, ++i));
          continue;
        }
        case '>' -> {
          boolean append = i + 1 < n && line.charAt(i + 1) == '>';
          i += append ? 2 : 1;
          out.add(new Token(append ? Kind.APPEND : Kind.OUT, append ? ">>" : ">", false, start, i));
          continue;
        }
        case '<' -> {
          out.add(new Token(Kind.IN, "<", false, start, ++i));
          continue;
        }
        case ';', '&' -> throw new AtSyntaxException(i + 1, "'" + c + "' is not supported (one pipeline per line, nothing in the"
            + " background); quote it to pass it to the command");
        default -> { }
      }
      if (c == '2' && line.startsWith("2>&1", i) && ends(line, i + 4)) {
        i += 4;
        out.add(new Token(Kind.ERR_TO_OUT, "2>&1", false, start, i));
        continue;
      }
      if (c == '2' && i + 1 < n && line.charAt(i + 1) == '>' && !(i + 2 < n && line.charAt(i + 2) == '>')) {
        i += 2;
        out.add(new Token(Kind.ERR, "2>", false, start, i));
        continue;
      }
      StringBuilder word = new StringBuilder();
      boolean at = c == '@';
      while (i < n) {
        char d = line.charAt(i);
        if (d == ' ' || d == '\t' || d == '|' || d == '>' || d == '<' || d == ';' || d == '&') {
          break;
        }
        if (d == '\'') {
          int close = line.indexOf('\'', i + 1);
          if (close < 0) {
            throw new AtSyntaxException(i + 1, "unterminated single quote");
          }
          word.append(line, i + 1, close);
          i = close + 1;
        } else if (d == '"') {
          i = doubleQuoted(line, i, word);
        } else if (d == '\\') {
          if (i + 1 >= n) {
            throw new AtSyntaxException(i + 1, "a backslash at the end of the line escapes nothing");
          }
          word.append(line.charAt(i + 1));
          i += 2;
        } else {
          word.append(d);
          i++;
        }
      }
      out.add(new Token(Kind.WORD, word.toString(), at, start, i));
    }
    return out;
  }

  private static boolean ends(String line, int i) {
    return i >= line.length() || " \t|<>".indexOf(line.charAt(i)) >= 0;
  }

  /** Appends a double-quoted string's value; returns the index after its closing quote. */
  private static int doubleQuoted(String line, int open, StringBuilder word) {
    int i = open + 1;
    while (i < line.length()) {
      char d = line.charAt(i);
      if (d == '"') {
        return i + 1;
      }
      if (d == '\\' && i + 1 < line.length() && "\"\\$`".indexOf(line.charAt(i + 1)) >= 0) {
        word.append(line.charAt(i + 1));
        i += 2;
      } else {
        word.append(d);
        i++;
      }
    }
    throw new AtSyntaxException(open + 1, "unterminated double quote");
  }
}
