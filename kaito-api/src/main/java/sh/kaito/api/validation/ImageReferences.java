package sh.kaito.api.validation;

import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks container image references the way Docker and upstream Kaito do ({@code
 * distribution/reference.ParseDockerRef}), with the same error texts.
 */
public final class ImageReferences {
  private ImageReferences() {}

  private static final String ALPHANUMERIC = "[a-z0-9]+";
  private static final String SEPARATOR = "(?:[._]|__|[-]+)";
  private static final String DOMAIN_COMPONENT =
      "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
  private static final String DOMAIN_NAME = DOMAIN_COMPONENT + "(?:\\." + DOMAIN_COMPONENT + ")*";
  private static final String IPV6 = "\\[(?:[a-fA-F0-9:]+)\\]";
  private static final String DOMAIN_AND_PORT = "(?:" + DOMAIN_NAME + "|" + IPV6 + ")(?::[0-9]+)?";
  private static final String PATH_COMPONENT =
      ALPHANUMERIC + "(?:" + SEPARATOR + ALPHANUMERIC + ")*";
  private static final String REMOTE_NAME = PATH_COMPONENT + "(?:/" + PATH_COMPONENT + ")*";
  private static final String NAME = "(?:" + DOMAIN_AND_PORT + "/)?" + REMOTE_NAME;
  private static final String TAG = "[\\w][\\w.-]{0,127}";
  private static final String DIGEST =
      "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}";
  private static final Pattern REFERENCE =
      Pattern.compile("^(" + NAME + ")(?::(" + TAG + "))?(?:@(" + DIGEST + "))?$");
  private static final Pattern IDENTIFIER = Pattern.compile("^[a-f0-9]{64}$");
  private static final int MAX_NAME_LENGTH = 255;

  /**
   * Why {@code reference} is not a valid image reference, or empty when it is. Texts are Docker's,
   * e.g. {@code "invalid reference format"} or {@code "invalid reference format: repository name
   * (library/Ubuntu) must be lowercase"}.
   */
  public static Optional<String> problem(String reference) {
    String s = reference == null ? "" : reference;
    if (IDENTIFIER.matcher(s).matches()) {
      return Optional.of(
          "invalid repository name (" + s + "), cannot specify 64-byte hexadecimal strings");
    }
    String remainder = splitDockerDomain(s);
    int tagSeparator = remainder.indexOf(':');
    String remote = tagSeparator > -1 ? remainder.substring(0, tagSeparator) : remainder;
    if (!remote.toLowerCase(Locale.ROOT).equals(remote)) {
      return Optional.of(
          "invalid reference format: repository name (" + remote + ") must be lowercase");
    }
    String full = s.contains("/") && hasDomain(s) ? s : "docker.io/" + remainder;
    Matcher m = REFERENCE.matcher(full);
    if (!m.matches()) {
      if (full.isEmpty()) {
        return Optional.of("repository name must have at least one component");
      }
      if (REFERENCE.matcher(full.toLowerCase(Locale.ROOT)).matches()) {
        return Optional.of("repository name must be lowercase");
      }
      return Optional.of("invalid reference format");
    }
    String name = m.group(1);
    int slash = name.indexOf('/');
    String path = slash >= 0 && hasDomain(name) ? name.substring(slash + 1) : name;
    if (path.length() > MAX_NAME_LENGTH) {
      return Optional.of("repository name must not be more than 255 characters");
    }
    String digest = m.group(3);
    if (digest != null) {
      return digestProblem(digest);
    }
    return Optional.empty();
  }

  /** True when {@code reference} is a valid image reference. */
  public static boolean isValid(String reference) {
    return problem(reference).isEmpty();
  }

  private static Optional<String> digestProblem(String digest) {
    int colon = digest.indexOf(':');
    String algorithm = digest.substring(0, colon);
    int hexLength = digest.length() - colon - 1;
    int expected =
        switch (algorithm) {
          case "sha256" -> 64;
          case "sha384" -> 96;
          case "sha512" -> 128;
          default -> -1;
        };
    if (expected < 0) {
      return Optional.of("unsupported digest algorithm");
    }
    if (hexLength != expected) {
      return Optional.of("invalid checksum digest length");
    }
    if (!digest.substring(colon + 1).equals(digest.substring(colon + 1).toLowerCase(Locale.ROOT))) {
      return Optional.of("invalid checksum digest format");
    }
    return Optional.empty();
  }

  /** The part after the registry domain, docker's {@code splitDockerDomain} rules. */
  private static String splitDockerDomain(String name) {
    int slash = name.indexOf('/');
    if (slash < 0) {
      return "library/" + name;
    }
    String maybeDomain = name.substring(0, slash);
    String rest = name.substring(slash + 1);
    if (maybeDomain.equals("index.docker.io") || hasDomain(name)) {
      return rest;
    }
    return name;
  }

  private static boolean hasDomain(String name) {
    int slash = name.indexOf('/');
    if (slash < 0) {
      return false;
    }
    String maybeDomain = name.substring(0, slash);
    return maybeDomain.equals("localhost")
        || maybeDomain.contains(".")
        || maybeDomain.contains(":")
        || !maybeDomain.toLowerCase(Locale.ROOT).equals(maybeDomain);
  }
}
