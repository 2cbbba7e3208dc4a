package sh.kaito.api.validation;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * DNS-1123 name checks with the Kubernetes API's own messages ({@code
 * k8s.io/apimachinery/pkg/util/validation}), so users read the text they know from kubectl.
 */
public final class KubernetesNames {
  private KubernetesNames() {}

  private static final String LABEL_FORMAT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
  private static final String SUBDOMAIN_FORMAT = LABEL_FORMAT + "(\\." + LABEL_FORMAT + ")*";
  private static final Pattern LABEL = Pattern.compile("^" + LABEL_FORMAT + "$");
  private static final Pattern SUBDOMAIN = Pattern.compile("^" + SUBDOMAIN_FORMAT + "$");
  private static final String LABEL_MESSAGE =
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and"
          + " must start and end with an alphanumeric character";
  private static final String SUBDOMAIN_MESSAGE =
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or"
          + " '.', and must start and end with an alphanumeric character";

  /** Problems with {@code value} as a DNS-1123 label (at most 63 characters, no dots). */
  public static List<String> dns1123LabelErrors(String value) {
    String v = value == null ? "" : value;
    List<String> errors = new ArrayList<>();
    if (v.length() > 63) {
      errors.add("must be no more than 63 characters");
    }
    if (!LABEL.matcher(v).matches()) {
      if (SUBDOMAIN.matcher(v).matches()) {
        errors.add("must not contain dots");
      } else {
        errors.add(regexError(LABEL_MESSAGE, LABEL_FORMAT, "my-name", "123-abc"));
      }
    }
    return errors;
  }

  /** Problems with {@code value} as a DNS-1123 subdomain (at most 253 characters). */
  public static List<String> dns1123SubdomainErrors(String value) {
    String v = value == null ? "" : value;
    List<String> errors = new ArrayList<>();
    if (v.length() > 253) {
      errors.add("must be no more than 253 characters");
    }
    if (!SUBDOMAIN.matcher(v).matches()) {
      errors.add(regexError(SUBDOMAIN_MESSAGE, SUBDOMAIN_FORMAT, "example.com"));
    }
    return errors;
  }

  private static String regexError(String message, String format, String... examples) {
    StringBuilder sb = new StringBuilder(message).append(" (e.g. ");
    for (int i = 0; i < examples.length; i++) {
      if (i > 0) {
        sb.append(" or ");
      }
      sb.append('\'').append(examples[i]).append("', ");
    }
    return sb.append("regex used for validation is '").append(format).append("')").toString();
  }
}
