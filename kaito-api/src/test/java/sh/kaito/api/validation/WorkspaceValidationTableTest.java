package sh.kaito.api.validation;

import static org.assertj.core.api.Assertions.assertThat;
import static sh.kaito.api.TestWorkspaces.adapter;
import static sh.kaito.api.TestWorkspaces.adapters;
import static sh.kaito.api.TestWorkspaces.annotate;
import static sh.kaito.api.TestWorkspaces.copy;
import static sh.kaito.api.TestWorkspaces.inference;
import static sh.kaito.api.TestWorkspaces.inferencePreset;
import static sh.kaito.api.TestWorkspaces.inferenceSpec;
import static sh.kaito.api.TestWorkspaces.inputUrls;
import static sh.kaito.api.TestWorkspaces.method;
import static sh.kaito.api.TestWorkspaces.pvc;
import static sh.kaito.api.TestWorkspaces.resource;
import static sh.kaito.api.TestWorkspaces.selector;
import static sh.kaito.api.TestWorkspaces.template;
import static sh.kaito.api.TestWorkspaces.tuning;
import static sh.kaito.api.TestWorkspaces.tuningPreset;
import static sh.kaito.api.TestWorkspaces.tuningSpec;
import static sh.kaito.api.TestWorkspaces.withName;

import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import sh.kaito.api.v1beta1.AdapterSpec;
import sh.kaito.api.v1beta1.DataDestination;
import sh.kaito.api.v1beta1.DataSource;
import sh.kaito.api.v1beta1.InferenceSpec;
import sh.kaito.api.v1beta1.PartitionSpec;
import sh.kaito.api.v1beta1.PresetSpec;
import sh.kaito.api.v1beta1.Workspace;

/**
 * Invalid Workspaces and the exact text upstream Kaito's webhook answers for each (messages, field
 * paths, merging and order as knative renders them). Rows marked "ours" are rules where we are
 * stricter than upstream, still with upstream's messages.
 */
class WorkspaceValidationTableTest {

  private static final WorkspaceValidator NAP =
      new WorkspaceValidator(ValidationOptions.defaults(), new CatalogForTests());
  private static final WorkspaceValidator BYO =
      new WorkspaceValidator(ValidationOptions.bringYourOwnNodes(), new CatalogForTests());
  private static final WorkspaceValidator BYO_WITH_GATES =
      new WorkspaceValidator(
          new ValidationOptions(false, false, List.of(), true, true), new CatalogForTests());
  private static final WorkspaceValidator KARPENTER =
      new WorkspaceValidator(
          new ValidationOptions(true, true, List.of("default", "gpu"), false, false),
          new CatalogForTests());

  private static final String LABEL_REGEX_ERROR =
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and"
          + " must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc',"
          + " regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
  private static final String PRIVATE =
      "invalid value: data source URL must not target a loopback, private, or link-local address:"
          + " tuning.Input.URLs";
  private static final String LOCAL =
      "invalid value: data source URL must not target a local or metadata endpoint:"
          + " tuning.Input.URLs";

  static Stream<Arguments> invalidOnCreate() {
    List<Arguments> rows = new ArrayList<>();
    // --- name (all operations)
    row(
        rows,
        "uppercase name",
        NAP,
        () -> withName(inference(), "WS"),
        "invalid value: " + LABEL_REGEX_ERROR + ": name");
    row(
        rows,
        "name with dots",
        NAP,
        () -> withName(inference(), "ws.a"),
        "invalid value: must not contain dots: name");
    row(
        rows,
        "name over 63",
        NAP,
        () -> withName(inference(), "a".repeat(64)),
        "invalid value: must be no more than 63 characters: name");
    row(
        rows,
        "long name with uppercase",
        NAP,
        () -> withName(inference(), "A".repeat(64)),
        "invalid value: must be no more than 63 characters, " + LABEL_REGEX_ERROR + ": name");
    row(
        rows,
        "name starting with dash",
        NAP,
        () -> withName(inference(), "-ws"),
        "invalid value: " + LABEL_REGEX_ERROR + ": name");
    // --- top level
    row(
        rows,
        "neither inference nor tuning",
        NAP,
        () ->
            inference(
                w -> {
                  w.setInference(null);
                  return w;
                }),
        "Either Inference or Tuning must be specified, not neither: spec");
    row(
        rows,
        "both inference and tuning",
        NAP,
        () ->
            inference(
                w -> {
                  w.setTuning(tuning().getTuning());
                  return w;
                }),
        "Either Inference or Tuning must be specified, but not both: spec");
    row(
        rows,
        "no instance type with auto-provisioning",
        NAP,
        () -> resource(inference(), r -> r.withInstanceType(null)),
        "missing field(s): spec.instanceType is required when node auto-provisioning is enabled,"
            + " spec.resource.instanceType");
    row(
        rows,
        "instance type with own nodes",
        BYO,
        () -> inference(),
        "invalid value: instanceType must be empty when node auto-provisioning is disabled (BYO"
            + " scenario): spec.resource.instanceType");
    row(
        rows,
        "unknown node image family",
        NAP,
        () -> annotate(inference(), "kaito.sh/node-image-family", "windows"),
        "invalid value: unsupported node image family \"windows\", supported values are"
            + " azurelinux, ubuntu: spec.metadata.annotations[\"kaito.sh/node-image-family\"]");
    row(
        rows,
        "bad performance mode",
        NAP,
        () -> annotate(inference(), "kaito.sh/performance-mode", "fast"),
        "invalid value: \"fast\" is not a valid performance mode; choose one of: balanced,"
            + " interactivity, throughput: metadata.annotations[kaito.sh/performance-mode]");
    row(
        rows,
        "bad use-local-weights",
        NAP,
        () -> annotate(inference(), "kaito.sh/use-local-weights", "yes"),
        "invalid value: \"yes\" must be \"true\" or \"false\":"
            + " metadata.annotations[kaito.sh/use-local-weights]");
    row(
        rows,
        "node class not managed by Kaito",
        KARPENTER,
        () -> annotate(inference(), "kaito.sh/node-class-name", "other"),
        "invalid value: \"other\" is not a KAITO-managed NodeClass, supported values are [default"
            + " gpu]: metadata.annotations[\"kaito.sh/node-class-name\"]");
    // --- inference
    row(
        rows,
        "neither preset nor template",
        NAP,
        () -> inferenceSpec(inference(), i -> new InferenceSpec(null, null, null, null)),
        "missing field(s): inference.Preset or Template must be specified");
    row(
        rows,
        "preset and template",
        NAP,
        () ->
            inferenceSpec(inference(), i -> new InferenceSpec(i.preset(), template(), null, null)),
        "Preset and Template cannot be set at the same time: ");
    row(
        rows,
        "unknown inference preset",
        NAP,
        () -> inferencePreset(inference(), "gpt-9"),
        "invalid value: Unsupported inference preset name gpt-9: inference.presetName");
    row(
        rows,
        "deprecated preset",
        NAP,
        () -> inferencePreset(inference(), "phi-2"),
        "Model phi-2 is deprecated and no longer supported: resource.presetName\n"
            + "invalid value: Unsupported inference preset name phi-2: inference.presetName");
    row(
        rows,
        "eleven adapters",
        NAP,
        () ->
            adapters(
                inference(),
                IntStream.range(0, 11)
                    .mapToObj(i -> adapter("a" + i, "1.0"))
                    .toArray(AdapterSpec[]::new)),
        "Number of Adapters exceeds the maximum limit, maximum of 10 allowed: ");
    row(
        rows,
        "duplicate adapter names",
        NAP,
        () -> adapters(inference(), adapter("a", "1.0"), adapter("a", "0.5")),
        "Duplicate adapter source name found: a: ");
    row(
        rows,
        "strength above 1 (ours on create)",
        NAP,
        () -> adapters(inference(), adapter("a", "1.5")),
        "Strength value for Adapter 'a' must be between 0 and 1: inference.adapter");
    row(
        rows,
        "negative strength (ours on create)",
        NAP,
        () -> adapters(inference(), adapter("a", "-0.1")),
        "Strength value for Adapter 'a' must be between 0 and 1: inference.adapter");
    row(
        rows,
        "strength not a number (ours on create)",
        NAP,
        () -> adapters(inference(), adapter("a", "abc")),
        "Invalid strength value for Adapter 'a': strconv.ParseFloat: parsing \"abc\": invalid"
            + " syntax: inference.adapter");
    row(
        rows,
        "strength with Java-only suffix (ours)",
        NAP,
        () -> adapters(inference(), adapter("a", "0.5f")),
        "Invalid strength value for Adapter 'a': strconv.ParseFloat: parsing \"0.5f\": invalid"
            + " syntax: inference.adapter");
    row(
        rows,
        "strength NaN (ours)",
        NAP,
        () -> adapters(inference(), adapter("a", "NaN")),
        "Strength value for Adapter 'a' must be between 0 and 1: inference.adapter");
    row(
        rows,
        "adapter without source (ours on create)",
        NAP,
        () -> adapters(inference(), new AdapterSpec(null, "1.0")),
        "missing field(s): inference.Source");
    row(
        rows,
        "adapter without name (ours on create)",
        NAP,
        () -> adapters(inference(), AdapterSpec.fromImage(null, "myregistry.azurecr.io/a:1", null)),
        "missing field(s): inference.Name of Adapter field must be specified");
    row(
        rows,
        "adapter name not a subdomain (ours on create)",
        NAP,
        () ->
            adapters(
                inference(), AdapterSpec.fromImage("Bad_Name", "myregistry.azurecr.io/a:1", null)),
        "invalid value: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric"
            + " characters, '-' or '.', and must start and end with an alphanumeric character"
            + " (e.g. 'example.com', regex used for validation is"
            + " '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'):"
            + " inference.adapters.source.name");
    row(
        rows,
        "adapter from URLs (ours on create)",
        NAP,
        () ->
            adapters(
                inference(),
                new AdapterSpec(
                    new DataSource("a", List.of("https://example.com/a"), null, null, null), null)),
        "Either Image or Volume must be specified for adapter source: inference.adapters.source\n"
            + "URLs are not supported as adapter source: inference.adapters.source.urls");
    row(
        rows,
        "adapter with image and volume (ours on create)",
        NAP,
        () ->
            adapters(
                inference(),
                new AdapterSpec(
                    new DataSource("a", null, pvc("c"), "myregistry.azurecr.io/a:1", null), null)),
        "Exactly one of URLs, Volume, or Image must be specified: inference.Adapters.Image,"
            + " inference.Adapters.URLs, inference.Adapters.Volume");
    row(
        rows,
        "adapter image unparsable (ours on create)",
        NAP,
        () -> adapters(inference(), AdapterSpec.fromImage("a", "myregistry.io/UPPER:1", null)),
        "invalid value: Unable to parse input image reference: invalid reference format:"
            + " repository name (UPPER) must be lowercase: inference.Adapters.Image");
    // --- resource for inference
    row(
        rows,
        "NotIn selector",
        NAP,
        () ->
            resource(
                inference(),
                r ->
                    r.withLabelSelector(
                        new LabelSelectorBuilder()
                            .addNewMatchExpression()
                            .withKey("a")
                            .withOperator("NotIn")
                            .withValues("b")
                            .endMatchExpression()
                            .build())),
        "invalid value: operator \"NotIn\" cannot be converted into the old label selector"
            + " format: resource.labelSelector");
    row(
        rows,
        "In selector with two values",
        NAP,
        () ->
            resource(
                inference(),
                r ->
                    r.withLabelSelector(
                        new LabelSelectorBuilder()
                            .addNewMatchExpression()
                            .withKey("a")
                            .withOperator("In")
                            .withValues("b", "c")
                            .endMatchExpression()
                            .build())),
        "invalid value: operator \"In\" without a single value cannot be converted into the old"
            + " label selector format: resource.labelSelector");
    row(
        rows,
        "unknown selector operator",
        NAP,
        () ->
            resource(
                inference(),
                r ->
                    r.withLabelSelector(
                        new LabelSelectorBuilder()
                            .addNewMatchExpression()
                            .withKey("a")
                            .withOperator("Foo")
                            .endMatchExpression()
                            .build())),
        "invalid value: \"Foo\" is not a valid selector operator: resource.labelSelector");
    row(
        rows,
        "only reserved labels",
        NAP,
        () ->
            resource(
                inference(), r -> r.withLabelSelector(selector("kaito.sh/workspace", "other"))),
        "invalid value: matchLabels must contain at least one non-reserved label:"
            + " resource.labelSelector.matchLabels");
    row(
        rows,
        "partition with auto-provisioning",
        NAP,
        () ->
            resource(inference(), r -> r.withPartition(new PartitionSpec("mig", "1g.10gb", null))),
        "GPU partitioning is only supported with BYO nodes (disableNodeAutoProvisioning=true):"
            + " resource.partition");
    row(
        rows,
        "MIG without its gate",
        BYO,
        () ->
            resource(
                inference(),
                r ->
                    r.withInstanceType(null)
                        .withPartition(new PartitionSpec("mig", "1g.10gb", null))),
        "MIG support is not enabled, set feature gate enableMIG=true: resource.partition");
    row(
        rows,
        "accelerator partition without its gate",
        BYO,
        () ->
            resource(
                inference(),
                r ->
                    r.withInstanceType(null)
                        .withPartition(new PartitionSpec("accelerator", null, 2))),
        "accelerator partition support is not enabled, set feature gate enableAccelerator=true:"
            + " resource.partition");
    row(
        rows,
        "MIG with a count",
        BYO_WITH_GATES,
        () ->
            resource(
                inference(),
                r ->
                    r.withInstanceType(null).withPartition(new PartitionSpec("mig", "1g.10gb", 2))),
        "invalid value: count is only valid for accelerator mode: resource.partition.count");
    row(
        rows,
        "accelerator with a profile and no count",
        BYO_WITH_GATES,
        () ->
            resource(
                inference(),
                r ->
                    r.withInstanceType(null)
                        .withPartition(new PartitionSpec("accelerator", "x", null))),
        "invalid value: profile is not valid for accelerator mode: resource.partition.profile\n"
            + "missing field(s): resource.partition.count");
    row(
        rows,
        "unknown partition mode",
        BYO_WITH_GATES,
        () ->
            resource(
                inference(),
                r -> r.withInstanceType(null).withPartition(new PartitionSpec("tpu", null, null))),
        "invalid value: unsupported partition mode \"tpu\", supported modes are \"mig\" and"
            + " \"accelerator\": resource.partition.mode");
    // --- tuning
    row(
        rows,
        "tuning on two nodes",
        NAP,
        () -> resource(tuning(), r -> r.withCount(2)),
        "invalid value: Tuning does not currently support multinode configurations. Please set the"
            + " node count to 1. Future support with DeepSpeed will allow this.: resource.count");
    row(
        rows,
        "tuning with a partition",
        NAP,
        () -> resource(tuning(), r -> r.withPartition(new PartitionSpec("mig", "1g.10gb", null))),
        "invalid value: GPU partitioning is not supported for tuning workloads: resource.partition");
    row(
        rows,
        "unknown method",
        NAP,
        () -> method(tuning(), "full"),
        "invalid value: full: tuning.Method");
    row(rows, "no method", NAP, () -> method(tuning(), null), "invalid value: : tuning.Method");
    row(
        rows,
        "no input",
        NAP,
        () -> tuningSpec(tuning(), t -> t.withInput(null)),
        "missing field(s): tuning.Input");
    row(
        rows,
        "no output",
        NAP,
        () -> tuningSpec(tuning(), t -> t.withOutput(null)),
        "missing field(s): tuning.Output");
    row(
        rows,
        "no tuning preset",
        NAP,
        () -> tuningPreset(tuning(), null),
        "missing field(s): tuning.Preset");
    row(
        rows,
        "unknown tuning preset",
        NAP,
        () -> tuningPreset(tuning(), "gpt-9"),
        "invalid value: Unsupported tuning preset name gpt-9: tuning.presetName");
    row(
        rows,
        "input with URLs and an image",
        NAP,
        () ->
            tuningSpec(
                tuning(),
                t ->
                    t.withInput(
                        new DataSource(
                            null,
                            List.of("https://example.com/d"),
                            null,
                            "myregistry.azurecr.io/d:1",
                            null))),
        "Exactly one of URLs, Volume, or Image must be specified: tuning.Input.Image,"
            + " tuning.Input.URLs, tuning.Input.Volume");
    row(
        rows,
        "empty input",
        NAP,
        () -> tuningSpec(tuning(), t -> t.withInput(new DataSource(null, null, null, null, null))),
        "Exactly one of URLs, Volume, or Image must be specified: tuning.Input.Image,"
            + " tuning.Input.URLs, tuning.Input.Volume");
    row(
        rows,
        "ftp URL",
        NAP,
        () -> inputUrls(tuning(), "ftp://example.com/data"),
        "invalid value: data source URL must use HTTP or HTTPS: tuning.Input.URLs");
    row(
        rows,
        "not a URL",
        NAP,
        () -> inputUrls(tuning(), "not a url"),
        "invalid value: invalid data source URL: tuning.Input.URLs");
    row(
        rows,
        "URL without host",
        NAP,
        () -> inputUrls(tuning(), "https:///data"),
        "invalid value: invalid data source URL: tuning.Input.URLs");
    row(rows, "localhost", NAP, () -> inputUrls(tuning(), "http://localhost:8080/x"), LOCAL);
    row(rows, "a .localhost name", NAP, () -> inputUrls(tuning(), "http://api.localhost/x"), LOCAL);
    row(
        rows,
        "localhost with a trailing dot (ours)",
        NAP,
        () -> inputUrls(tuning(), "http://localhost./x"),
        LOCAL);
    row(
        rows,
        "GCP metadata host",
        NAP,
        () -> inputUrls(tuning(), "http://metadata.google.internal/x"),
        LOCAL);
    row(
        rows,
        "AWS metadata host",
        NAP,
        () -> inputUrls(tuning(), "http://instance-data.ec2.internal/x"),
        LOCAL);
    row(rows, "loopback IPv4", NAP, () -> inputUrls(tuning(), "http://127.0.0.1/x"), PRIVATE);
    row(rows, "private 10/8", NAP, () -> inputUrls(tuning(), "https://10.0.0.5/x"), PRIVATE);
    row(rows, "private 172.16/12", NAP, () -> inputUrls(tuning(), "https://172.20.1.1/x"), PRIVATE);
    row(
        rows,
        "private 192.168/16",
        NAP,
        () -> inputUrls(tuning(), "http://192.168.1.1/x"),
        PRIVATE);
    row(
        rows,
        "cloud metadata IP",
        NAP,
        () -> inputUrls(tuning(), "http://169.254.169.254/latest/meta-data"),
        PRIVATE);
    row(rows, "loopback IPv6", NAP, () -> inputUrls(tuning(), "http://[::1]:80/x"), PRIVATE);
    row(
        rows,
        "IPv6 unique local (AWS IMDS)",
        NAP,
        () -> inputUrls(tuning(), "http://[fd00:ec2::254]/x"),
        PRIVATE);
    row(rows, "IPv6 link local", NAP, () -> inputUrls(tuning(), "http://[fe80::1]/x"), PRIVATE);
    row(
        rows,
        "IPv4-mapped loopback (ours)",
        NAP,
        () -> inputUrls(tuning(), "http://[::ffff:127.0.0.1]/x"),
        PRIVATE);
    row(
        rows,
        "loopback as one number (ours)",
        NAP,
        () -> inputUrls(tuning(), "http://2130706433/x"),
        PRIVATE);
    row(rows, "loopback in hex (ours)", NAP, () -> inputUrls(tuning(), "http://0x7f.1/x"), PRIVATE);
    row(
        rows,
        "unspecified address (ours)",
        NAP,
        () -> inputUrls(tuning(), "http://0.0.0.0/x"),
        PRIVATE);
    row(
        rows,
        "two bad URLs",
        NAP,
        () -> inputUrls(tuning(), "http://127.0.0.1/a", "http://localhost/b", "http://10.1.1.1/c"),
        LOCAL + "\n" + PRIVATE);
    row(
        rows,
        "input image unparsable",
        NAP,
        () -> tuningSpec(tuning(), t -> t.withInput(DataSource.ofImage("myregistry.io/UPPER:1"))),
        "invalid value: Unable to parse input image reference: invalid reference format:"
            + " repository name (UPPER) must be lowercase: tuning.Input.Image");
    row(
        rows,
        "output with neither",
        NAP,
        () -> tuningSpec(tuning(), t -> t.withOutput(new DataDestination(null, null, null))),
        "missing field(s): tuning.Output.Exactly one of Volume or Image must be specified");
    row(
        rows,
        "output image without push secret",
        NAP,
        () ->
            tuningSpec(
                tuning(),
                t -> t.withOutput(DataDestination.ofImage("myregistry.azurecr.io/a:1", null))),
        "missing field(s): tuning.Output.Must specify imagePushSecret with destination image");
    row(
        rows,
        "output with image and volume",
        NAP,
        () ->
            tuningSpec(
                tuning(),
                t ->
                    t.withOutput(
                        new DataDestination(pvc("out"), "myregistry.azurecr.io/a:1", "s"))),
        "missing field(s): tuning.Output.Exactly one of Volume or Image must be specified");
    row(
        rows,
        "output image with a space",
        NAP,
        () ->
            tuningSpec(
                tuning(),
                t -> t.withOutput(DataDestination.ofImage("myregistry.io/a:bad tag", "s"))),
        "invalid value: Unable to parse output image reference: invalid reference format:"
            + " tuning.Output.Image");
    row(
        rows,
        "output digest of the wrong length",
        NAP,
        () ->
            tuningSpec(
                tuning(),
                t ->
                    t.withOutput(
                        DataDestination.ofImage("myregistry.io/a@sha256:" + "a".repeat(40), "s"))),
        "invalid value: Unable to parse output image reference: invalid checksum digest length:"
            + " tuning.Output.Image");
    row(
        rows,
        "the seed's placeholder output image",
        NAP,
        () ->
            tuningSpec(
                tuning(),
                t ->
                    t.withOutput(
                        DataDestination.ofImage(
                            "ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1",
                            "ACR_REGISTRY_SECRET_HERE"))),
        "invalid value: Unable to parse output image reference: invalid reference format:"
            + " repository name (IMAGE_NAME_HERE) must be lowercase: tuning.Output.Image");
    row(
        rows,
        "several errors at once, sorted by message",
        NAP,
        () -> tuningPreset(method(withName(tuning(), "Bad"), "full"), "gpt-9"),
        // Byte order, as Go sorts: upper case before lower case.
        "invalid value: Unsupported tuning preset name gpt-9: tuning.presetName\n"
            + "invalid value: "
            + LABEL_REGEX_ERROR
            + ": name\n"
            + "invalid value: full: tuning.Method");
    return rows.stream();
  }

  static Stream<Arguments> invalidOnUpdate() {
    List<Arguments> rows = new ArrayList<>();
    update(
        rows,
        "inference swapped for tuning",
        NAP,
        inference(),
        tuning(),
        "Inference field cannot be toggled once set: spec.inference\n"
            + "Tuning field cannot be toggled once set: spec.tuning\n"
            + "field is immutable: resource.labelSelector\n"
            + "instanceType cannot be changed once set when node auto-provisioning is enabled:"
            + " resource.instanceType");
    update(
        rows,
        "count changed",
        NAP,
        inference(),
        resource(inference(), r -> r.withCount(2)),
        "field is immutable: resource.count",
        r -> r.withCount(1));
    update(
        rows,
        "selector changed",
        NAP,
        inference(),
        resource(inference(), r -> r.withLabelSelector(selector("apps", "other"))),
        "field is immutable: resource.labelSelector");
    update(
        rows,
        "count and selector changed: one merged error",
        NAP,
        resource(inference(), r -> r.withCount(1)),
        resource(inference(), r -> r.withCount(3).withLabelSelector(selector("apps", "other"))),
        "field is immutable: resource.count, resource.labelSelector");
    update(
        rows,
        "instance type changed",
        NAP,
        inference(),
        resource(inference(), r -> r.withInstanceType("Standard_NC6s_v3")),
        "instanceType cannot be changed once set when node auto-provisioning is enabled:"
            + " resource.instanceType");
    update(
        rows,
        "instance type removed",
        NAP,
        inference(),
        resource(inference(), r -> r.withInstanceType(null)),
        "missing field(s): resource.instanceType, resource.instanceType is required when node"
            + " auto-provisioning is enabled");
    update(
        rows,
        "own nodes: instance type added",
        BYO,
        resource(inference(), r -> r.withInstanceType(null)),
        inference(),
        "invalid value: instanceType must be empty when node auto-provisioning is disabled (BYO"
            + " scenario): resource.instanceType");
    update(
        rows,
        "own nodes: instance type changed",
        BYO,
        inference(),
        resource(inference(), r -> r.withInstanceType("Standard_NC6s_v3")),
        "invalid value: instanceType cannot be changed once set: resource.instanceType");
    update(
        rows,
        "partition changed",
        BYO_WITH_GATES,
        resource(
            inference(),
            r -> r.withInstanceType(null).withPartition(new PartitionSpec("mig", "1g.10gb", null))),
        resource(
            inference(),
            r -> r.withInstanceType(null).withPartition(new PartitionSpec("mig", "2g.20gb", null))),
        "field is immutable: resource.partition");
    update(
        rows,
        "selector with NotIn",
        NAP,
        inference(),
        resource(
            inference(),
            r ->
                r.withLabelSelector(
                    new LabelSelectorBuilder()
                        .addNewMatchExpression()
                        .withKey("a")
                        .withOperator("NotIn")
                        .withValues("b")
                        .endMatchExpression()
                        .build())),
        "Only allow matchLabels or 'IN' matchExpression: resource.labelSelector");
    update(
        rows,
        "preset changed",
        NAP,
        inference(),
        inferencePreset(inference(), "phi-3-mini-4k-instruct"),
        "field is immutable: inference.preset");
    update(
        rows,
        "preset options changed",
        NAP,
        inference(),
        inferenceSpec(
            inference(),
            i ->
                new InferenceSpec(
                    new PresetSpec(i.preset().name(), "private", null), null, null, null)),
        "field is immutable: inference.preset");
    update(
        rows,
        "preset replaced by a template",
        NAP,
        inference(),
        inferenceSpec(inference(), i -> new InferenceSpec(null, template(), null, null)),
        "field cannot be unset/set if it was set/unset: inference.template\n"
            + "field is immutable: inference.preset");
    update(
        rows,
        "adapter from URLs added",
        NAP,
        inference(),
        adapters(
            inference(),
            new AdapterSpec(
                new DataSource("a", List.of("https://example.com/a"), null, null, null), "0.5")),
        "Either Image or Volume must be specified for adapter source: inference.adapters.source\n"
            + "URLs are not supported as adapter source: inference.adapters.source.urls");
    update(
        rows,
        "adapter strength out of range",
        NAP,
        inference(),
        adapters(inference(), adapter("a", "2")),
        "Strength value for Adapter 'a' must be between 0 and 1: inference.adapter");
    update(
        rows,
        "tuning preset changed",
        NAP,
        tuning(),
        tuningPreset(tuning(), "phi-3-mini-4k-instruct"),
        "Preset cannot be changed: tuning.Preset");
    update(
        rows,
        "tuning method changed",
        NAP,
        tuning(),
        method(tuning(), "lora"),
        "Method cannot be changed: tuning.Method");
    update(
        rows,
        "input name changed",
        NAP,
        tuningSpec(
            tuning(),
            t ->
                t.withInput(
                    new DataSource("v1", List.of("https://example.com/d"), null, null, null))),
        tuningSpec(
            tuning(),
            t ->
                t.withInput(
                    new DataSource("v2", List.of("https://example.com/d"), null, null, null))),
        "invalid value: During tuning Name field cannot be changed once set: tuning.Input.Name");
    update(
        rows,
        "input removed",
        NAP,
        tuning(),
        tuningSpec(tuning(), t -> t.withInput(null)),
        "missing field(s): tuning.Input");
    update(
        rows,
        "output removed",
        NAP,
        tuning(),
        tuningSpec(tuning(), t -> t.withOutput(null)),
        "missing field(s): tuning.Output");
    update(
        rows,
        "output image unparsable",
        NAP,
        tuning(),
        tuningSpec(tuning(), t -> t.withOutput(DataDestination.ofImage("myregistry.io/A:1", "s"))),
        "invalid value: Unable to parse output image reference: invalid reference format:"
            + " repository name (A) must be lowercase: tuning.Output.Image");
    update(
        rows,
        "input URL moved to the metadata service (ours)",
        NAP,
        tuning(),
        inputUrls(tuning(), "http://169.254.169.254/latest"),
        PRIVATE);
    update(
        rows,
        "output gets a second destination (ours)",
        NAP,
        tuning(),
        tuningSpec(
            tuning(),
            t -> t.withOutput(new DataDestination(pvc("o"), "myregistry.azurecr.io/a:1", "s"))),
        "missing field(s): tuning.Output.Exactly one of Volume or Image must be specified");
    update(
        rows,
        "renamed to an invalid name",
        NAP,
        inference(),
        withName(inference(), "Ws"),
        "invalid value: " + LABEL_REGEX_ERROR + ": name");
    return rows.stream();
  }

  @ParameterizedTest(name = "create: {0}")
  @MethodSource("invalidOnCreate")
  void rejectsOnCreateWithUpstreamsMessage(
      String name, WorkspaceValidator validator, Supplier<Workspace> workspace, String expected) {
    ValidationResult result = validator.validateCreate(workspace.get());
    assertThat(result.isValid()).isFalse();
    assertThat(result.message()).isEqualTo(expected);
  }

  @ParameterizedTest(name = "update: {0}")
  @MethodSource("invalidOnUpdate")
  void rejectsOnUpdateWithUpstreamsMessage(
      String name,
      WorkspaceValidator validator,
      Workspace old,
      Workspace updated,
      String expected) {
    ValidationResult result = validator.validateUpdate(old, updated);
    assertThat(result.isValid()).isFalse();
    assertThat(result.message()).isEqualTo(expected);
  }

  @Test
  void tableHasAtLeastSixtyInvalidWorkspaces() {
    assertThat(invalidOnCreate().count() + invalidOnUpdate().count()).isGreaterThanOrEqualTo(60);
  }

  @Test
  void validWorkspacesPass() {
    assertThat(NAP.validateCreate(inference()).isValid()).isTrue();
    assertThat(NAP.validateCreate(tuning()).isValid()).isTrue();
    assertThat(NAP.validateCreate(method(tuning(), "QLoRA")).isValid())
        .as("method is case-insensitive")
        .isTrue();
    assertThat(
            NAP.validateCreate(adapters(inference(), adapter("a", "0"), adapter("b", null)))
                .isValid())
        .isTrue();
    assertThat(BYO.validateCreate(resource(inference(), r -> r.withInstanceType(null))).isValid())
        .isTrue();
    assertThat(
            NAP.validateCreate(
                    inferenceSpec(
                        inference(), i -> new InferenceSpec(null, template(), null, null)))
                .isValid())
        .isTrue();
    assertThat(
            NAP.validateCreate(annotate(inference(), "kaito.sh/node-image-family", "AzureLinux"))
                .isValid())
        .isTrue();
    assertThat(
            NAP.validateCreate(
                    tuningSpec(tuning(), t -> t.withInput(DataSource.ofVolume(pvc("data")))))
                .isValid())
        .isTrue();
  }

  @Test
  void allowedUpdatesPass() {
    Workspace old = inference();
    assertThat(
            NAP.validateUpdate(old, adapters(copy(old), adapter("new-adapter", "0.7"))).isValid())
        .as("adapters may change")
        .isTrue();
    assertThat(
            NAP.validateUpdate(old, inferenceSpec(copy(old), i -> i.withConfig("my-config")))
                .isValid())
        .as("inference config may change")
        .isTrue();
    Workspace tuningOld = tuning();
    assertThat(
            NAP.validateUpdate(
                    tuningOld, inputUrls(copy(tuningOld), "https://example.org/v2.parquet"))
                .isValid())
        .as("a new dataset is allowed (it replaces the job)")
        .isTrue();
    assertThat(NAP.validateUpdate(tuningOld, method(copy(tuningOld), "QLORA")).isValid())
        .as("method compared case-insensitively")
        .isTrue();
  }

  private static void row(
      List<Arguments> rows,
      String name,
      WorkspaceValidator v,
      Supplier<Workspace> ws,
      String expected) {
    rows.add(Arguments.of(name, v, ws, expected));
  }

  private static void update(
      List<Arguments> rows,
      String name,
      WorkspaceValidator v,
      Workspace old,
      Workspace updated,
      String expected) {
    rows.add(Arguments.of(name, v, old, updated, expected));
  }

  private static void update(
      List<Arguments> rows,
      String name,
      WorkspaceValidator v,
      Workspace old,
      Workspace updated,
      String expected,
      java.util.function.UnaryOperator<sh.kaito.api.v1beta1.ResourceSpec> oldChange) {
    update(rows, name, v, resource(old, oldChange), updated, expected);
  }
}
