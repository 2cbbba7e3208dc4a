package sh.kaito.examples;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.validation.ValidationOptions;
import sh.kaito.api.validation.ValidationResult;
import sh.kaito.api.validation.WorkspaceValidator;
import sh.kaito.api.yaml.KaitoYaml;
import sh.kaito.api.yaml.WorkspaceYamlException;
import sh.kaito.presets.sizing.CatalogPresetChecks;

/**
 * Checks Workspace YAML files offline with the admission webhook's rules and prints, for each, the
 * typed workspace and the verdict with upstream's messages.
 *
 * <pre>
 * ValidateWorkspace [--report] [--byo] FILE...
 *   --report  exit 0 even when a workspace is invalid (only unreadable files fail)
 *   --byo     bring-your-own nodes: node auto-provisioning off
 * </pre>
 *
 * <p>Preset names and GPU sizing come from the built-in model catalog and Azure SKU table ({@code
 * kaito-presets}), as in the operator's webhook.
 */
public final class ValidateWorkspace {
  private ValidateWorkspace() {}

  public static void main(String[] args) {
    boolean report = false;
    boolean byo = false;
    List<Path> files = new ArrayList<>();
    for (String arg : args) {
      switch (arg) {
        case "--report" -> report = true;
        case "--byo" -> byo = true;
        case "-h", "--help" -> {
          System.out.println("usage: ValidateWorkspace [--report] [--byo] FILE...");
          return;
        }
        default -> files.add(Path.of(arg));
      }
    }
    if (files.isEmpty()) {
      System.err.println("usage: ValidateWorkspace [--report] [--byo] FILE...");
      System.exit(2);
    }
    WorkspaceValidator validator =
        new WorkspaceValidator(
            byo ? ValidationOptions.bringYourOwnNodes() : ValidationOptions.defaults(),
            CatalogPresetChecks.azure());
    int invalid = 0;
    int unreadable = 0;
    for (Path file : files) {
      System.out.println("=== " + file);
      Workspace workspace;
      try {
        workspace = KaitoYaml.readWorkspace(file);
      } catch (WorkspaceYamlException e) {
        System.out.println("cannot read: " + e.getMessage());
        unreadable++;
        continue;
      }
      System.out.print(KaitoYaml.write(workspace));
      ValidationResult result = validator.validateCreate(workspace);
      if (result.isValid()) {
        System.out.println(
            "--> valid "
                + workspace.getApiVersion()
                + " Workspace "
                + workspace.getMetadata().getName());
      } else {
        invalid++;
        System.out.println("--> rejected, as Kaito's webhook would answer kubectl apply:");
        result.message().lines().forEach(line -> System.out.println("    " + line));
      }
      result.warnings().forEach(w -> System.out.println("--> warning: " + w));
    }
    System.out.printf(
        "%d file(s): %d valid, %d rejected, %d unreadable%n",
        files.size(), files.size() - invalid - unreadable, invalid, unreadable);
    if (unreadable > 0 || (!report && invalid > 0)) {
      System.exit(1);
    }
  }
}
