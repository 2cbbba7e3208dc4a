package sh.kaito.presets.image;

/**
 * Where files live inside our images.
 *
 * <ul>
 *   <li>Weights images: the model directory's files under {@link #WEIGHTS_DIR}, keeping their
 *       relative paths; one layer per weight file (a safetensors shard) and one layer for all small
 *       files together (config, tokenizer), so multi-GB models are never one layer and a changed
 *       tokenizer re-pushes kilobytes.
 *   <li>Adapter images (upstream's layout, kaito-upstream-contract.md §5.4): {@link #ADAPTER_DIR}
 *       holding {@code adapter_config.json} and {@code adapter_model.safetensors}.
 * </ul>
 */
public final class ModelImageLayout {
  private ModelImageLayout() {}

  /** Weights directory in a weights image; also what the runtime loads. */
  public static final String WEIGHTS_DIR = "/workspace/weights";

  /** Adapter directory in an adapter image (upstream). */
  public static final String ADAPTER_DIR = "/data";

  public static final String ADAPTER_CONFIG = "adapter_config.json";
  public static final String ADAPTER_WEIGHTS = "adapter_model.safetensors";

  /** Files at least this large get a layer of their own. */
  public static final long OWN_LAYER_THRESHOLD = 16L * 1024 * 1024;

  /** Manifest annotation upstream's pusher writes with the preset name. */
  public static final String MODEL_NAME_ANNOTATION = "sh.kaito.model.name";
}
