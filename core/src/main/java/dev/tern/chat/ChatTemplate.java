package dev.tern.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import dev.tern.TernException;
import jinjava.javax.el.CompositeELResolver;

import java.time.Clock;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's chat template ({@code tokenizer.chat_template}, Jinja2) rendered as Hugging Face
 * transformers renders it: variables {@code messages}, {@code add_generation_prompt},
 * {@code bos_token}, {@code eos_token}, {@code tools = none}, {@code documents = none};
 * functions {@code raise_exception} and {@code strftime_now}; trim_blocks and lstrip_blocks on.
 * Python features Jinjava lacks (str methods, slices, keyword values with operators) are
 * supplied or rewritten. Without a template, {@link #CHATML} is used.
 */
public final class ChatTemplate {

    /** The fallback: ChatML, as transformers' former default chat template. */
    public static final String CHATML = "{% for message in messages %}"
            + "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
            + "{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    private final String source;
    private final String prepared;
    private final boolean fallback;
    private final String bosToken;
    private final String eosToken;
    private final Clock clock;
    /** Built on first render: loading Jinjava takes half a second that plain completions never need. */
    private Jinjava jinjava;

    private ChatTemplate(String source, boolean fallback, String bosToken, String eosToken, Clock clock) {
        this.source = source;
        this.prepared = TemplateSyntax.rewrite(source);
        this.fallback = fallback;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.clock = clock;
    }

    /**
     * @param jinjaTemplate the template text, or null (or blank) for the ChatML fallback
     * @param bosToken      text of the BOS token (may be null: renders as empty)
     * @param eosToken      text of the EOS token (may be null: renders as empty)
     */
    public static ChatTemplate of(String jinjaTemplate, String bosToken, String eosToken) {
        return of(jinjaTemplate, bosToken, eosToken, Clock.systemDefaultZone());
    }

    static ChatTemplate of(String jinjaTemplate, String bosToken, String eosToken, Clock clock) {
        boolean none = jinjaTemplate == null || jinjaTemplate.isBlank();
        return new ChatTemplate(none ? CHATML : jinjaTemplate, none, bosToken, eosToken, clock);
    }

    /** Whether this is the ChatML fallback rather than the model's own template. */
    public boolean isFallback() {
        return fallback;
    }

    /** The Jinja2 source being rendered. */
    public String source() {
        return source;
    }

    /** Renders the conversation; with {@code addGenerationPrompt} the text ends where the assistant's reply begins. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * Renders with extra template variables (as transformers' {@code apply_chat_template}
     * kwargs), e.g. {@code tools}, {@code date_string}, {@code enable_thinking}; they override
     * the defaults.
     *
     * @throws TernException with a one-line message if the template fails or calls raise_exception
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, Object> variables) {
        List<Map<String, Object>> msgs = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            map.putAll(m.fields());
            msgs.add(map);
        }
        Map<String, Object> ctx = new HashMap<>();
        ctx.put("messages", msgs);
        ctx.put("add_generation_prompt", addGenerationPrompt);
        ctx.put("bos_token", bosToken);
        ctx.put("eos_token", eosToken);
        ctx.put("tools", null);
        ctx.put("documents", null);
        // Globals in transformers, so templates may test "strftime_now is defined"; calls still
        // go to the registered functions.
        ctx.put("strftime_now", "strftime_now");
        ctx.put("raise_exception", "raise_exception");
        ctx.putAll(variables);
        ctx.put(TemplateFunctions.NOW, ZonedDateTime.now(clock));
        RenderResult result;
        try {
            result = engine().renderForResult(prepared, ctx);
        } catch (RuntimeException e) {
            throw failure(e.getMessage(), e, -1);
        }
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw failure(error.getMessage(), error.getException(), error.getLineno());
            }
        }
        return result.getOutput();
    }

    private static TernException failure(String message, Throwable cause, int line) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof TemplateFunctions.Raised raised) {
                return new TernException("chat template raised an exception: " + oneLine(raised.getMessage()), raised);
            }
        }
        String where = line > 0 ? " at line " + line : "";
        return new TernException("chat template error" + where + ": " + oneLine(message), cause);
    }

    private static String oneLine(String s) {
        return s == null ? "unknown error" : s.replaceAll("\\s*\\R\\s*", " ").strip();
    }

    private synchronized Jinjava engine() {
        if (jinjava == null) {
            jinjava = newEngine();
        }
        return jinjava;
    }

    private static Jinjava newEngine() {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PyStringResolver());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_WRITE);
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                // lstrip_blocks is applied by TemplateSyntax: Jinjava's strips before tags that follow text too
                .withElResolver(resolver)
                // message text is data: never re-render output that looks like a template
                .withNestedInterpretationEnabled(false)
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseTrimmingForNotesAndExpressions(true) // honour {{- and -}}
                        .withParseWhitespaceControlStrictly(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withEvaluateMapKeys(true) // {k: v} evaluates k, as Python does
                        .withIterateOverMapKeys(true) // for k in dict iterates keys, as Python does
                        .withKeepNullableLoopValues(true)
                        .withUsePyishObjectMapper(true) // {{ list }} prints as Python would
                        .build())
                .build();
        Jinjava j = new Jinjava(config);
        j.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                TemplateFunctions.class, "raiseException", Object.class));
        j.getGlobalContext().registerFunction(new ELFunctionDefinition("", "strftime_now",
                TemplateFunctions.class, "strftimeNow", String.class));
        j.getGlobalContext().registerFilter(new PySliceFilter());
        j.getGlobalContext().registerFilter(new PyJsonFilter());
        j.getGlobalContext().registerExpTest(new PyIterableTest());
        return j;
    }
}
