package io.mcp.affinity.sample.conformance;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.modelcontextprotocol.server.McpServerFeatures.SyncResourceSpecification;
import io.modelcontextprotocol.server.McpServerFeatures.SyncResourceTemplateSpecification;
import io.modelcontextprotocol.spec.McpSchema.BlobResourceContents;
import io.modelcontextprotocol.spec.McpSchema.ReadResourceResult;
import io.modelcontextprotocol.spec.McpSchema.Resource;
import io.modelcontextprotocol.spec.McpSchema.ResourceContents;
import io.modelcontextprotocol.spec.McpSchema.ResourceTemplate;
import io.modelcontextprotocol.spec.McpSchema.TextResourceContents;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Profile;

import static io.mcp.affinity.sample.conformance.ConformanceContent.PNG;

/**
 * The resources and the resource template the conformance scenarios list, read and subscribe to.
 */
@Configuration(proxyBeanMethods = false)
@Profile("conformance")
class ConformanceResources {

	private static final Pattern TEMPLATE_ID = Pattern.compile("test://template/(.+)/data");

	@Bean
	List<SyncResourceSpecification> conformanceResourceSpecifications() {
		return List.of(
				resource("test://static-text", "Static text", "text/plain",
						TextResourceContents.builder("test://static-text", "This is the content of the static text resource.")
							.mimeType("text/plain")
							.build()),
				resource("test://static-binary", "Static binary", "image/png",
						BlobResourceContents.builder("test://static-binary", PNG).mimeType("image/png").build()),
				// The subscribe scenarios only subscribe to it; its content never changes.
				resource("test://watched-resource", "Watched", "text/plain",
						TextResourceContents.builder("test://watched-resource", "This is a watched resource.")
							.mimeType("text/plain")
							.build()));
	}

	@Bean
	List<SyncResourceTemplateSpecification> conformanceResourceTemplateSpecifications() {
		ResourceTemplate template = ResourceTemplate.builder("test://template/{id}/data", "Template")
			.description("Data for an id, e.g. test://template/123/data.")
			.mimeType("application/json")
			.build();
		return List.of(new SyncResourceTemplateSpecification(template, (exchange, request) -> {
			Matcher uri = TEMPLATE_ID.matcher(request.uri());
			String id = uri.matches() ? uri.group(1) : "";
			String json = "{\"id\":\"" + id + "\",\"templateTest\":true,\"data\":\"Data for ID: " + id + "\"}";
			return ReadResourceResult
				.builder(List.of(TextResourceContents.builder(request.uri(), json).mimeType("application/json").build()))
				.build();
		}));
	}

	private static SyncResourceSpecification resource(String uri, String name, String mimeType,
			ResourceContents contents) {
		Resource resource = Resource.builder(uri, name)
			.description(name + " resource for the conformance suite.")
			.mimeType(mimeType)
			.build();
		return new SyncResourceSpecification(resource,
				(exchange, request) -> ReadResourceResult.builder(List.of(contents)).build());
	}

}
