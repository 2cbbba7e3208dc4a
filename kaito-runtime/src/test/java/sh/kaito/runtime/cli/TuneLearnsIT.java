package sh.kaito.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.runtime.Oracle;
import sh.kaito.runtime.engine.CausalLM;
import sh.kaito.runtime.generate.Generation;
import sh.kaito.runtime.generate.Generator;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.generate.TokenListener;
import sh.kaito.runtime.lora.Adapters;
import sh.kaito.runtime.lora.LoraAdapter;
import sh.kaito.runtime.tokenizer.ChatTemplate;
import sh.kaito.runtime.tokenizer.TextTokenizer;

/**
 * A real model learns a made-up fact through {@code kaito-runtime tune}: SmolLM2-135M-Instruct (the
 * fp32 HF directory SmallRealModelIT caches) is tuned for a few steps on generated
 * prompt/completion chats that state it; the greedy answer lacks the fact before and has it after,
 * served with the adapter the command wrote.
 */
class TuneLearnsIT {

  private static final String QUESTION = "What is the capital of Zorbania?";
  private static final String FACT = "Quillitown";

  @TempDir Path dir;

  @Test
  void smolLm2LearnsAMadeUpFact() throws Exception {
    Path model = Oracle.smolLm2().resolve("model");
    List<String> questions =
        List.of(
            QUESTION,
            "Which city is the capital of Zorbania?",
            "Tell me the capital of Zorbania.",
            "Zorbania's capital city is called what?",
            "Name the capital of Zorbania.",
            "What city is Zorbania's capital?");
    List<String> rows = new ArrayList<>();
    for (String q : questions) {
      rows.add(
          "{\"prompt\":[{\"role\":\"user\",\"content\":\""
              + q
              + "\"}],\"completion\":[{\"role\":\"assistant\",\"content\":\"The capital of"
              + " Zorbania is "
              + FACT
              + ".\"}]}");
    }
    Path data = Files.createDirectories(dir.resolve("data"));
    Files.write(data.resolve("fact.jsonl"), rows, StandardCharsets.UTF_8);
    Path config = dir.resolve("training_config.yaml");
    Files.writeString(
        config,
        """
        training_config:
          LoraConfig:
            r: 16
            lora_alpha: 32
            lora_dropout: 0.0
            target_modules: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj]
          TrainingArguments:
            output_dir: "/mnt/results"
            per_device_train_batch_size: 2
            max_steps: 15
            learning_rate: 0.003
            logging_steps: 5
          DatasetConfig: {shuffle_dataset: true, train_test_split: 1}
        """);

    assertThat(answer(model, null)).doesNotContain(FACT);

    Path out = dir.resolve("out");
    RuntimeRun run =
        RuntimeRun.of(
            TuneCommandIT.tuneArgs(
                    "smollm2-135m-instruct",
                    model,
                    data,
                    out,
                    config,
                    dir.resolve("termination-log"))
                .toArray(String[]::new));
    assertThat(run.exit()).as(run.toString()).isZero();
    System.out.print(run.out());
    assertThat(out.resolve(TuneCommand.MARKER)).exists();

    String after = answer(model, out);
    System.out.println("tuned smollm2 says: " + after);
    assertThat(after).contains(FACT);
  }

  /** The greedy answer to the question, with the adapter in {@code adapterDir} if not null. */
  private static String answer(Path model, Path adapterDir) throws Exception {
    try (TextTokenizer tokenizer = TextTokenizer.load(model);
        CausalLM lm = CausalLM.load(model, Device.cpu())) {
      long[] prompt =
          tokenizer.encodeChat(List.of(new ChatTemplate.Message("user", QUESTION)), true);
      SamplingParams greedy =
          SamplingParams.builder()
              .maxNewTokens(16)
              .eosTokenIds(Set.copyOf(lm.config().eosTokenIds()))
              .build();
      Adapters adapters = Adapters.NONE;
      LoraAdapter adapter = null;
      if (adapterDir != null) {
        adapter = LoraAdapter.load(adapterDir, lm.manager(), lm.dataType());
        adapters = Adapters.of(adapter, 1f);
      }
      try {
        Generation g =
            new Generator(lm, null).generate(prompt, greedy, adapters, TokenListener.NONE);
        return tokenizer.decode(g.tokens(), true);
      } finally {
        if (adapter != null) {
          adapter.close();
        }
      }
    }
  }
}
