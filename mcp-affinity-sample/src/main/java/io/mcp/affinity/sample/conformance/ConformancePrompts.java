package io.mcp.affinity.sample.conformance;

import java.util.List;
import java.util.function.Function;

import io.modelcontextprotocol.server.McpServerFeatures.SyncCompletionSpecification;
import io.modelcontextprotocol.server.McpServerFeatures.SyncPromptSpecification;
import io.modelcontextprotocol.spec.McpSchema.CompleteResult;
import io.modelcontextprotocol.spec.McpSchema.CompleteResult.CompleteCompletion;
import io.modelcontextprotocol.spec.McpSchema.Content;
import io.modelcontextprotocol.spec.McpSchema.EmbeddedResource;
import io.modelcontextprotocol.spec.McpSchema.GetPromptRequest;
import io.modelcontextprotocol.spec.McpSchema.GetPromptResult;
import io.modelcontextprotocol.spec.McpSchema.ImageContent;
import io.modelcontextprotocol.spec.McpSchema.Prompt;
import io.modelcontextprotocol.spec.McpSchema.PromptArgument;
import io.modelcontextprotocol.spec.McpSchema.PromptMessage;
import io.modelcontextprotocol.spec.McpSchema.PromptReference;
import io.modelcontextprotocol.spec.McpSchema.Role;
import io.modelcontextprotocol.spec.McpSchema.TextContent;
import io.modelcontextprotocol.spec.McpSchema.TextResourceContents;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Profile;

import static io.mcp.affinity.sample.conformance.ConformanceContent.PNG;

/**
 * The prompts the conformance scenarios list and get, and the completion of a prompt argument.
 */
@Configuration(proxyBeanMethods = false)
@Profile("conformance")
class ConformancePrompts {

	private static final String PROMPT_WITH_ARGUMENTS = "test_prompt_with_arguments";

	private static final List<String> ARGUMENT_SUGGESTIONS = List.of("testValue1", "testValue2");

	@Bean
	List<SyncPromptSpecification> conformancePromptSpecifications() {
		return List.of(
				prompt("test_simple_prompt", "A prompt without arguments.", List.of(),
						(request) -> List.of(text("This is a simple prompt for testing."))),
				prompt(PROMPT_WITH_ARGUMENTS, "A prompt with two required arguments.",
						List.of(argument("arg1", "First test argument"), argument("arg2", "Second test argument")),
						(request) -> List.of(text("Prompt with arguments: arg1='" + request.arguments().get("arg1")
								+ "', arg2='" + request.arguments().get("arg2") + "'"))),
				prompt("test_prompt_with_embedded_resource", "A prompt that embeds the resource it is given.",
						List.of(argument("resourceUri", "URI of the resource to embed")),
						(request) -> List.of(
								message(EmbeddedResource.builder(TextResourceContents
									.builder(String.valueOf(request.arguments().get("resourceUri")),
											"Embedded resource content for testing.")
									.mimeType("text/plain")
									.build()).build()),
								text("Please process the embedded resource above."))),
				prompt("test_prompt_with_image", "A prompt with an image.", List.of(),
						(request) -> List.of(message(ImageContent.builder(PNG, "image/png").build()),
								text("Please analyze the image above."))));
	}

	/**
	 * Completes either argument of {@code test_prompt_with_arguments} from a short fixed list. Without a
	 * completion for the prompt the server would answer with no values, which the suite accepts too.
	 */
	@Bean
	List<SyncCompletionSpecification> conformanceCompletionSpecifications() {
		return List.of(new SyncCompletionSpecification(new PromptReference(PROMPT_WITH_ARGUMENTS), (exchange,
				request) -> {
			String typed = request.argument().value();
			List<String> values = ARGUMENT_SUGGESTIONS.stream().filter((value) -> value.startsWith(typed)).toList();
			return new CompleteResult(new CompleteCompletion(values, values.size(), false));
		}));
	}

	private static SyncPromptSpecification prompt(String name, String description, List<PromptArgument> arguments,
			Function<GetPromptRequest, List<PromptMessage>> messages) {
		Prompt prompt = Prompt.builder(name).description(description).arguments(arguments).build();
		return new SyncPromptSpecification(prompt,
				(exchange, request) -> GetPromptResult.builder(messages.apply(request)).build());
	}

	private static PromptArgument argument(String name, String description) {
		return PromptArgument.builder(name).description(description).required(true).build();
	}

	private static PromptMessage text(String text) {
		return message(TextContent.builder(text).build());
	}

	private static PromptMessage message(Content content) {
		return PromptMessage.builder(Role.USER, content).build();
	}

}
