package sh.kaito.presets.catalog;

/**
 * Runtime defaults of a preset (upstream model.go {@code ModelRunParams}, transformers and vLLM).
 *
 * @param torchDtype transformers {@code --torch_dtype}
 * @param pipeline transformers {@code --pipeline}
 * @param trustRemoteCode transformers {@code --trust_remote_code}
 * @param allowRemoteFiles transformers {@code --allow_remote_files}
 * @param chatTemplate transformers chat template file under {@code /workspace/chat_templates}, or
 *     null
 * @param vllmDtype vLLM {@code --dtype}, or null
 * @param toolCallParser vLLM {@code --tool-call-parser}, or null
 * @param vllmChatTemplate vLLM chat template file, or null
 */
public record InferenceDefaults(
    String torchDtype,
    String pipeline,
    boolean trustRemoteCode,
    boolean allowRemoteFiles,
    String chatTemplate,
    String vllmDtype,
    String toolCallParser,
    String vllmChatTemplate) {}
