package dev.tern.model;

import dev.tern.TernException;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * What distinguishes one GGUF architecture (the {@code general.architecture} value) from the
 * llama baseline that {@link GGUFModelReader} reads. Adding an architecture means adding one
 * small implementation and one line to {@link #KNOWN}.
 */
public interface Architecture {

    /** The {@code general.architecture} value, also the prefix of its metadata keys. */
    String name();

    RopeStyle ropeStyle();

    /** Whether the q, k and v projections have biases ({@code blk.N.attn_q.bias} …). */
    boolean qkvBias();

    /** Whether each head of q and k is RMS-normalised before RoPE ({@code blk.N.attn_q_norm.weight} …). */
    default boolean qkNorm() {
        return false;
    }

    List<Architecture> KNOWN = List.of(new LlamaArchitecture(), new Qwen2Architecture(), new Qwen3Architecture());

    /** The architecture called {@code name}, or a one-line TernException listing the known ones. */
    static Architecture forName(String name) {
        Map<String, Architecture> byName = KNOWN.stream().collect(Collectors.toMap(Architecture::name, Function.identity()));
        Architecture a = byName.get(name);
        if (a == null) {
            throw new TernException("unsupported model architecture '" + name + "' (supported: "
                    + KNOWN.stream().map(Architecture::name).collect(Collectors.joining(", ")) + ")");
        }
        return a;
    }
}
