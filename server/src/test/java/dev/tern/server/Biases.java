package dev.tern.server;

import com.openai.core.JsonValue;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.tern.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;

/** Logit biases the story-model tests use. */
final class Biases {
    private Biases() {
    }

    /** A story model left alone writes one endless string; biases towards quotes and braces let its JSON close. */
    static ChatCompletionCreateParams.LogitBias quoteAndBrace(Tokenizer tokenizer) {
        ChatCompletionCreateParams.LogitBias.Builder bias = ChatCompletionCreateParams.LogitBias.builder();
        for (int t = 0; t < tokenizer.vocabSize(); t++) {
            String piece = new String(tokenizer.tokenBytes(t), StandardCharsets.UTF_8);
            if (piece.equals("\"") || piece.equals("}")) {
                bias.putAdditionalProperty(String.valueOf(t), JsonValue.from(piece.equals("}") ? 12 : 6));
            }
        }
        return bias.build();
    }
}
