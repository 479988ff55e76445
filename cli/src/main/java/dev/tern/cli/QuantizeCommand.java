package dev.tern.cli;

import dev.tern.TernException;
import dev.tern.gguf.GGUFFile;
import dev.tern.gguf.ImportanceMatrix;
import dev.tern.gguf.MetadataOverride;
import dev.tern.gguf.ModelQuantizer;
import dev.tern.gguf.QuantMix;
import dev.tern.tensor.GGMLType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/** {@code tern quantize}: re-encode a GGUF model's weights. */
@Command(name = "quantize", customSynopsis = "tern quantize [OPTIONS] IN [OUT] TYPE", description = "Write IN's weights as TYPE into OUT as llama-quantize does: its mix for TYPE"
        + " (output in Q6_K, some tensors raised per layer), or with --pure TYPE for every weight matrix.")
final class QuantizeCommand implements Callable<Integer> {
    /** The file types, for the help. */
    private static final String TYPES = "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q2_K_S, Q3_K_S, Q3_K_M (Q3_K), Q3_K_L, Q4_K_S,"
            + " Q4_K_M (Q4_K), Q5_K_S, Q5_K_M (Q5_K), Q6_K, IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M, IQ3_XXS, IQ3_XS, IQ3_S,"
            + " IQ3_M, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0, MXFP4_MOE, F32, F16, BF16 (IQ1_*, IQ2_*, IQ3_XXS, IQ3_XS and Q2_K_S need --imatrix);"
            + " with --pure also any tensor type";
    /** llama-quantize's aliases: a K type alone names its _M mix. */
    private static final Map<String, String> ALIASES = Map.of("Q3_K", "Q3_K_M", "Q4_K", "Q4_K_M", "Q5_K", "Q5_K_M");

    @Spec
    CommandSpec spec;

    @Option(names = "--pure", description = "Every weight matrix in TYPE, no mix (llama-quantize --pure)")
    boolean pure;

    @Option(names = "--output-tensor-type", paramLabel = "TYPE", description = "The output matrix in TYPE")
    String outputType;

    @Option(names = "--token-embedding-type", paramLabel = "TYPE", description = "The token embedding in TYPE")
    String tokenEmbeddingType;

    @Option(names = "--leave-output-tensor", description = "Keep the output matrix as it is")
    boolean leaveOutput;

    @Option(names = "--imatrix", paramLabel = "FILE", description = "Importance matrix (tern imatrix or llama-imatrix, GGUF or .dat)"
            + " to guide the quantizers")
    Path imatrix;

    @Option(names = "--include-weights", paramLabel = "NAME", description = "Use the importance matrix only for tensors whose name"
            + " contains NAME; repeatable")
    List<String> includeWeights = new ArrayList<>();

    @Option(names = "--exclude-weights", paramLabel = "NAME", description = "Don't use the importance matrix for tensors whose name"
            + " contains NAME; repeatable")
    List<String> excludeWeights = new ArrayList<>();

    @Option(names = "--tensor-type", paramLabel = "PATTERN=TYPE", description = "Tensors whose name matches the regular expression"
            + " PATTERN (first match wins) in TYPE, outside the mix; repeatable, e.g. attn_v=q8_0")
    List<String> tensorTypes = new ArrayList<>();

    @Option(names = "--allow-requantize", description = "Quantize tensors that are already quantized (decoded first; quality suffers)")
    boolean allowRequantize;

    @Option(names = "--override-kv", paramLabel = "KEY=TYPE:VALUE", description = "Write this metadata value into OUT"
            + " (TYPE int, float, bool or str); repeatable")
    List<String> overrideKv = new ArrayList<>();

    @Option(names = "--dry-run", description = "Print each tensor's type and size before and after, write nothing")
    boolean dryRun;

    @Option(names = "--prune-layers", paramLabel = "L0,L1,...", split = ",", description = "Leave these layers out;"
            + " the later ones are renumbered and the block count lowered (llama-quantize --prune-layers)")
    List<Integer> pruneLayers = new ArrayList<>();

    @Option(names = "--keep-split", description = "Write a split model's tensors into parts as its own:"
            + " OUT-00001-of-0000N.gguf and so on (OUT without .gguf)")
    boolean keepSplit;

    @Parameters(index = "0", description = "Input GGUF")
    Path in;

    @Parameters(index = "1..2", arity = "1..2", paramLabel = "[OUT] TYPE", hideParamSyntax = true,
            description = "Output GGUF (default: ggml-model-TYPE.gguf beside IN, as llama-quantize names it), then TYPE: " + TYPES)
    List<String> outAndType;


    @Override
    public Integer call() {
        String type = outAndType.getLast();
        String name = type.toUpperCase();
        Path out = dryRun ? null : outAndType.size() == 2 ? Path.of(outAndType.getFirst())
                : in.toAbsolutePath().resolveSibling("ggml-model-" + name + ".gguf");
        long t0 = System.nanoTime();
        QuantMix mix = Arrays.stream(QuantMix.values()).filter(m -> m.name().equals(ALIASES.getOrDefault(name, name)))
                .findFirst().orElse(null);
        if (!includeWeights.isEmpty() && !excludeWeights.isEmpty()) {
            throw new TernException("--include-weights and --exclude-weights cannot be used together");
        }
        ModelQuantizer.Overrides o = new ModelQuantizer.Overrides(type(outputType), type(tokenEmbeddingType), leaveOutput,
                tensorTypes.stream().map(QuantizeCommand::tensorType).toList(), allowRequantize,
                overrideKv.stream().map(MetadataOverride::parse).toList(), keepSplit, pruneLayers);
        ImportanceMatrix importance = imatrix == null ? null : ImportanceMatrix.read(imatrix).filter(includeWeights, excludeWeights);
        List<ModelQuantizer.Planned> plan = mix == null ? ModelQuantizer.quantize(in, out, type(type), o, importance)
                : pure ? ModelQuantizer.quantizePure(in, out, mix, o, importance)
                : ModelQuantizer.quantize(in, out, mix, o, importance);
        if (dryRun) {
            print(plan);
        } else {
            String written = out.toString();
            if (keepSplit) {
                try (GGUFFile f = GGUFFile.open(in)) {
                    written = String.join(", ", ModelQuantizer.keptSplitParts(out, f.parts().size()).stream().map(Path::toString).toList());
                }
            }
            spec.commandLine().getErr().printf("wrote %s (%s%s) in %.1f s%n", written, name, pure ? ", pure" : "", (System.nanoTime() - t0) / 1e9);
        }
        return 0;
    }

    /** llama-quantize --dry-run's listing: each tensor's types and sizes, then the model's. */
    private void print(List<ModelQuantizer.Planned> plan) {
        var out = spec.commandLine().getOut();
        long before = 0, after = 0, elements = 0;
        for (ModelQuantizer.Planned p : plan) {
            var t = p.tensor();
            out.printf("%-32s %-20s %7s -> %-7s %9.3f MiB -> %9.3f MiB%n", t.name(), Arrays.toString(t.shape()), t.type(), p.to(),
                    t.byteSize() / 1048576.0, p.bytesAfter() / 1048576.0);
            before += t.byteSize();
            after += p.bytesAfter();
            elements += t.elementCount();
        }
        out.printf("model size: %.2f MiB -> %.2f MiB (%.2f bits per weight)%n", before / 1048576.0, after / 1048576.0,
                8.0 * after / elements);
    }

    /** One --tensor-type: the name part lowercased, as llama-quantize does. */
    private static ModelQuantizer.TensorType tensorType(String arg) {
        int eq = arg.indexOf('=');
        if (eq <= 0 || eq == arg.length() - 1) {
            throw new TernException("--tensor-type '" + arg + "' is not PATTERN=TYPE");
        }
        try {
            return new ModelQuantizer.TensorType(Pattern.compile(arg.substring(0, eq).toLowerCase()), type(arg.substring(eq + 1)));
        } catch (PatternSyntaxException e) {
            throw new TernException("--tensor-type '" + arg + "': " + e.getDescription() + " in the pattern");
        }
    }

    /** A tensor type by name, null for none. */
    private static GGMLType type(String name) {
        if (name == null) {
            return null;
        }
        try {
            return GGMLType.valueOf(name.toUpperCase());
        } catch (IllegalArgumentException e) {
            throw new TernException("unknown type '" + name + "'");
        }
    }
}
