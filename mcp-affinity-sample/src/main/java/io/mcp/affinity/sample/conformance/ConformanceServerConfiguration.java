package io.mcp.affinity.sample.conformance;

import io.modelcontextprotocol.json.jackson3.JacksonMcpJsonMapper;
import io.modelcontextprotocol.server.transport.DefaultServerTransportSecurityValidator;
import io.modelcontextprotocol.server.transport.ServerTransportSecurityValidator;
import io.modelcontextprotocol.spec.McpSchema.ServerCapabilities;
import tools.jackson.databind.json.JsonMapper;
import org.springframework.ai.mcp.customizer.McpSyncServerCustomizer;
import org.springframework.ai.mcp.server.common.autoconfigure.properties.McpServerStreamableHttpProperties;
import org.springframework.ai.mcp.server.webflux.transport.WebFluxStreamableServerTransportProvider;
import org.springframework.ai.mcp.server.webmvc.transport.WebMvcStreamableServerTransportProvider;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Primary;
import org.springframework.context.annotation.Profile;
import org.springframework.web.context.WebApplicationContext;

/**
 * The server-wide settings the conformance suite checks and Spring AI's auto-configuration does not make: transport
 * security against DNS rebinding, and the {@code resources.subscribe} capability.
 */
@Configuration(proxyBeanMethods = false)
@Profile("conformance")
class ConformanceServerConfiguration {

	/**
	 * Spring AI's WebFlux transport, as its auto-configuration builds it (which backs off for this bean), plus a
	 * security validator: by default every Host and Origin is accepted, which is what DNS rebinding exploits.
	 */
	@Bean
	@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
	WebFluxStreamableServerTransportProvider webFluxStreamableServerTransportProvider(
			@Qualifier("mcpServerJsonMapper") JsonMapper jsonMapper, McpServerStreamableHttpProperties properties) {
		return WebFluxStreamableServerTransportProvider.builder()
			.jsonMapper(new JacksonMcpJsonMapper(jsonMapper))
			.messageEndpoint(properties.getMcpEndpoint())
			.keepAliveInterval(properties.getKeepAliveInterval())
			.disallowDelete(properties.isDisallowDelete())
			.securityValidator(loopbackOnly())
			.build();
	}

	/** The same for Spring AI's Web MVC transport, when the sample runs on the servlet stack. */
	@Bean
	@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
	WebMvcStreamableServerTransportProvider webMvcStreamableServerTransportProvider(
			@Qualifier("mcpServerJsonMapper") JsonMapper jsonMapper, McpServerStreamableHttpProperties properties) {
		return WebMvcStreamableServerTransportProvider.builder()
			.jsonMapper(new JacksonMcpJsonMapper(jsonMapper))
			.mcpEndpoint(properties.getMcpEndpoint())
			.keepAliveInterval(properties.getKeepAliveInterval())
			.disallowDelete(properties.isDisallowDelete())
			.securityValidator(loopbackOnly())
			.build();
	}

	// Only loopback names, on any port: the suite and the local cluster run on loopback only.
	private static ServerTransportSecurityValidator loopbackOnly() {
		return DefaultServerTransportSecurityValidator.builder()
			.allowedHost("localhost:*")
			.allowedHost("127.0.0.1:*")
			.allowedHost("[::1]:*")
			.allowedOrigin("http://localhost:*")
			.allowedOrigin("http://127.0.0.1:*")
			.allowedOrigin("http://[::1]:*")
			.build();
	}

	/**
	 * Spring AI always declares resources without {@code subscribe}, and the MCP server only answers
	 * {@code resources/subscribe} and {@code resources/unsubscribe} when it is declared. This customizer runs after
	 * the auto-configuration set the capabilities, so it replaces them with the same set plus {@code subscribe}.
	 */
	@Bean
	@Primary
	McpSyncServerCustomizer resourceSubscriptionCapability(ApplicationContext context) {
		// Spring AI takes one customizer: on the servlet stack this one also does what its own would (run a tool on
		// the request's thread).
		boolean servlet = context instanceof WebApplicationContext;
		return (server) -> {
			server.capabilities(ServerCapabilities.builder()
				.tools(true)
				.resources(true, true)
				.prompts(true)
				.completions()
				.build());
			if (servlet) {
				server.immediateExecution(true);
			}
		};
	}

}
