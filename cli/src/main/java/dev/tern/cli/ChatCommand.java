package dev.tern.cli;

import dev.tern.Tern;
import dev.tern.chat.ChatMessage;
import dev.tern.engine.ContextShift;
import dev.tern.engine.GenerationResult;
import dev.tern.engine.Generator;
import dev.tern.engine.Session;
import dev.tern.sampling.Sampler;
import dev.tern.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.Callable;

/**
 * {@code tern chat}: an interactive conversation through the model's chat template. The KV cache
 * is kept between turns: each turn re-renders the conversation, and only the tokens after the
 * longest prefix already in the cache are processed. With {@code --context-shift} a long reply
 * shifts the context, and a conversation that would fill more than three quarters of it loses its
 * oldest messages (the system message stays), so that the chat goes on.
 */
@Command(name = "chat", description = "Chat interactively (one message per line; an empty line or EOF ends).")
final class ChatCommand implements Callable<Integer> {
    private static final String CONTEXT_FULL = "context is full; ending the chat (--context-shift drops the oldest turns instead)";
    /** Longest warm-up while the first message is typed. */
    private static final double WARM_UP_SECONDS = 5;

    @Spec
    CommandSpec spec;

    @ParentCommand
    Main main;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    SamplingOptions sampling;

    @Option(names = {"--system", "-sys", "--system-prompt"}, description = "System message (llama-cli's -sys)")
    String system;

    @Mixin
    ChatTemplateOption chatTemplate;

    @Mixin
    ContextShiftOptions contextShift;

    @Option(names = {"-n", "--n-predict"}, description = "Most tokens per reply (default: ${DEFAULT-VALUE})")
    int maxTokens = 512;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        BufferedReader in = new BufferedReader(new InputStreamReader(main.in, StandardCharsets.UTF_8));
        ContextShift shift = contextShift.shift();
        try (Tern tern = modelOptions.load(chatTemplate.read()); Session session = tern.newSession()) {
            Tokenizer tok = tern.tokenizer();
            Sampler sampler = new Sampler(sampling.config(tok), tok, null);
            List<ChatMessage> messages = new ArrayList<>();
            if (system != null) {
                messages.add(new ChatMessage("system", system));
            }
            AtomicBoolean typed = new AtomicBoolean();
            Thread warmUp = Thread.ofPlatform().daemon().start(() -> warmUp(tern, typed));
            while (true) {
                out.print("> ");
                out.flush();
                String line = in.readLine();
                if (warmUp != null) {
                    typed.set(true);
                    joinQuietly(warmUp);
                    warmUp = null;
                }
                if (line == null || line.isBlank()) {
                    break;
                }
                messages.add(new ChatMessage("user", line));
                int[] all = tern.encodeRendered(tern.chatTemplate().render(messages, true));
                if (shift.enabled()) {
                    int dropped = 0;
                    int first = system != null ? 1 : 0;
                    while (all.length > session.contextSize() * 3 / 4 && messages.size() - first > 1) {
                        // A user message and the reply to it: templates expect the turns to alternate from a user's.
                        do {
                            messages.remove(first);
                            dropped++;
                        } while (messages.size() - first > 1 && !messages.get(first).role().equals("user"));
                        all = tern.encodeRendered(tern.chatTemplate().render(messages, true));
                    }
                    if (dropped > 0) {
                        spec.commandLine().getErr().printf("[context: the %d oldest messages dropped]%n", dropped);
                    }
                }
                if (all.length >= session.contextSize()) {
                    // The conversation leaves no room for a reply: end as a full context during one does.
                    spec.commandLine().getErr().println(CONTEXT_FULL);
                    break;
                }
                int keep = Session.reusable(session.tokens(), all);
                session.truncate(keep);
                int[] fresh = Arrays.copyOfRange(all, keep, all.length);
                GenerationResult r = Generator.generate(session, tok, fresh, sampler, maxTokens, List.of(), shift, (id, piece) -> {
                    out.print(piece);
                    out.flush();
                    return true;
                });
                out.println();
                messages.add(new ChatMessage("assistant", r.text()));
                spec.commandLine().getErr().printf("[%d new prompt tokens (%d reused from cache), %d generated, %.1f tokens/s]%n",
                        fresh.length, keep, r.tokens().length, r.timings().predictedPerSecond());
                if (r.stopReason() == GenerationResult.StopReason.CONTEXT_FULL) {
                    spec.commandLine().getErr().println(CONTEXT_FULL);
                    break;
                }
            }
        }
        return 0;
    }

    /**
     * While the user types the first message: builds the chat template's engine and runs the
     * kernels, so that the first answer does not wait for the JIT. Best effort: a failure here
     * only means a slower first answer.
     */
    private static void warmUp(Tern tern, AtomicBoolean typed) {
        try {
            tern.chatTemplate().render(List.of(new ChatMessage("user", "Hi")), true);
            tern.warmUp(WARM_UP_SECONDS, typed::get);
        } catch (RuntimeException ignored) {
            // The first answer computes what the warm-up could not.
        }
    }

    private static void joinQuietly(Thread t) {
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
