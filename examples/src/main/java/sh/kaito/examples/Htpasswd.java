package sh.kaito.examples;

import org.mindrot.jbcrypt.BCrypt;

/**
 * One line of an htpasswd file for the quickstart's registry: {@code USER:<bcrypt hash>}, the only
 * hash distribution's htpasswd authentication accepts. The password comes from {@code
 * $KAITO_REGISTRY_PASSWORD}, never from the command line (where {@code ps} would show it).
 */
public final class Htpasswd {
  private Htpasswd() {}

  public static String line(String user, String password) {
    if (user.isEmpty() || user.contains(":")) {
      throw new IllegalArgumentException("a user name must be non-empty and without ':'");
    }
    return user + ":" + BCrypt.hashpw(password, BCrypt.gensalt(10));
  }

  public static void main(String[] args) {
    String password = System.getenv("KAITO_REGISTRY_PASSWORD");
    if (args.length != 1 || password == null || password.isEmpty()) {
      System.err.println("usage: KAITO_REGISTRY_PASSWORD=... Htpasswd USER");
      System.exit(2);
    }
    System.out.println(line(args[0], password));
  }
}
