package sh.kaito.api.validation;

import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * The SSRF guard for tuning input URLs: the tuning pod downloads them inside the cluster, so a URL
 * must not point at the pod's own node, the cluster network, or a cloud metadata service.
 *
 * <p>Same rules and messages as upstream Kaito (HEAD), plus what upstream misses: the unspecified
 * address {@code 0.0.0.0}/{@code ::}, IPv4 written in the numeric forms {@code inet_aton} accepts
 * ({@code 2130706433}, {@code 0x7f.1}, {@code 0177.0.0.1}), IPv4-mapped IPv6 and a trailing dot
 * after {@code localhost}. No name is resolved here (validation does no I/O); the downloader checks
 * resolved addresses again at fetch time.
 */
public final class DataSourceUrls {
  private DataSourceUrls() {}

  static final String INVALID = "invalid data source URL";
  static final String NOT_HTTP = "data source URL must use HTTP or HTTPS";
  static final String LOCAL_OR_METADATA =
      "data source URL must not target a local or metadata endpoint";
  static final String PRIVATE_ADDRESS =
      "data source URL must not target a loopback, private, or link-local address";

  private static final Set<String> METADATA_HOSTS =
      Set.of("metadata.google.internal", "metadata.google", "instance-data.ec2.internal");

  /** Why the URL may not be used as tuning input, or empty when it may. */
  public static Optional<String> problem(String url) {
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException | NullPointerException e) {
      return Optional.of(INVALID);
    }
    String authority = uri.getRawAuthority();
    if (uri.getScheme() == null || authority == null || authority.isEmpty()) {
      return Optional.of(INVALID);
    }
    String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https")) {
      return Optional.of(NOT_HTTP);
    }
    String host = hostOf(authority);
    if (host.isEmpty()) {
      return Optional.of(INVALID);
    }
    String hostname = host.toLowerCase(Locale.ROOT);
    while (hostname.endsWith(".")) {
      hostname = hostname.substring(0, hostname.length() - 1);
    }
    if (hostname.equals("localhost")
        || hostname.endsWith(".localhost")
        || METADATA_HOSTS.contains(hostname)) {
      return Optional.of(LOCAL_OR_METADATA);
    }
    Optional<InetAddress> address = literalAddress(hostname);
    if (address.isPresent() && isInternal(address.get())) {
      return Optional.of(PRIVATE_ADDRESS);
    }
    return Optional.empty();
  }

  /** True for loopback, private, link-local, unspecified and IPv6 unique-local addresses. */
  public static boolean isInternal(InetAddress a) {
    byte[] b = a.getAddress();
    if (a.isLoopbackAddress() || a.isAnyLocalAddress() || a.isLinkLocalAddress()) {
      return true;
    }
    if (b.length == 4) {
      int first = b[0] & 0xff;
      int second = b[1] & 0xff;
      return first == 10
          || (first == 172 && second >= 16 && second <= 31)
          || (first == 192 && second == 168)
          || first == 0
          || (first == 224 && second == 0 && (b[2] & 0xff) == 0); // link-local multicast
    }
    int first = b[0] & 0xff;
    return (first & 0xfe) == 0xfc // fc00::/7 unique local
        || (first == 0xff && (b[1] & 0x0f) == 0x02); // link-local multicast
  }

  private static String hostOf(String authority) {
    String hostPort = authority.substring(authority.lastIndexOf('@') + 1);
    if (hostPort.startsWith("[")) {
      int end = hostPort.indexOf(']');
      return end < 0 ? "" : hostPort.substring(1, end);
    }
    int colon = hostPort.indexOf(':');
    return colon < 0 ? hostPort : hostPort.substring(0, colon);
  }

  /** The address when {@code host} is an IP literal in any form a resolver would accept. */
  static Optional<InetAddress> literalAddress(String host) {
    String h = host;
    int zone = h.indexOf('%');
    if (zone >= 0) {
      h = h.substring(0, zone);
    }
    try {
      if (h.contains(":")) {
        // IPv6 literal: getByName parses it without a lookup.
        return Optional.of(InetAddress.getByName("[" + h + "]"));
      }
      byte[] v4 = parseInetAton(h);
      return v4 == null ? Optional.empty() : Optional.of(InetAddress.getByAddress(v4));
    } catch (UnknownHostException e) {
      return Optional.empty();
    }
  }

  /** IPv4 in inet_aton's forms: 1 to 4 parts, each decimal, octal (leading 0) or hex (0x). */
  private static byte[] parseInetAton(String host) {
    String[] parts = host.split("\\.", -1);
    if (parts.length < 1 || parts.length > 4) {
      return null;
    }
    long[] values = new long[parts.length];
    for (int i = 0; i < parts.length; i++) {
      Long v = parseNumber(parts[i]);
      if (v == null) {
        return null;
      }
      values[i] = v;
    }
    long address = 0;
    int last = parts.length - 1;
    for (int i = 0; i < last; i++) {
      if (values[i] > 255) {
        return null;
      }
      address |= values[i] << (8 * (3 - i));
    }
    long lastMax = (1L << (8 * (4 - last))) - 1;
    if (values[last] > lastMax) {
      return null;
    }
    address |= values[last];
    return new byte[] {
      (byte) (address >>> 24), (byte) (address >>> 16), (byte) (address >>> 8), (byte) address
    };
  }

  private static Long parseNumber(String s) {
    try {
      if (s.isEmpty() || s.contains("+") || s.contains("-")) {
        return null;
      }
      if (s.startsWith("0x") || s.startsWith("0X")) {
        return s.length() == 2 ? 0L : Long.parseLong(s.substring(2), 16);
      }
      if (s.length() > 1 && s.startsWith("0")) {
        return Long.parseLong(s.substring(1), 8);
      }
      if (!s.chars().allMatch(Character::isDigit)) {
        return null;
      }
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      return null;
    }
  }
}
