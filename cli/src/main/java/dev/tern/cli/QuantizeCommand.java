package dev.tern.cli;

import dev.tern.TernException;
import dev.tern.gguf.ModelQuantizer;
import dev.tern.gguf.QuantMix;
import dev.tern.tensor.GGMLType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;

/** {@code tern quantize}: re-encode a GGUF model's weights. */
@Command(name = "quantize", description = "Write IN's weights as TYPE into OUT: a tensor type as llama-quantize --pure does,"
        + " or one of llama-quantize's K-quant mixes (Q4_K_M …) as it does by default.")
final class QuantizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", description = "Input GGUF")
    Path in;

    @Parameters(index = "1", description = "Output GGUF")
    Path out;

    @Parameters(index = "2", description = "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, TQ1_0,"
            + " TQ2_0, MXFP4; or a mix: Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M")
    String type;

    @Override
    public Integer call() {
        String name = type.toUpperCase();
        long t0 = System.nanoTime();
        if (Arrays.stream(QuantMix.values()).anyMatch(m -> m.name().equals(name))) {
            ModelQuantizer.quantize(in, out, QuantMix.valueOf(name));
        } else {
            GGMLType t;
            try {
                t = GGMLType.valueOf(name);
            } catch (IllegalArgumentException e) {
                throw new TernException("unknown type '" + type + "'");
            }
            ModelQuantizer.requireQuantizable(t);
            ModelQuantizer.quantize(in, out, t);
        }
        spec.commandLine().getErr().printf("wrote %s (%s) in %.1f s%n", out, name, (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
