package io.mcp.affinity.sample.conformance;

import io.modelcontextprotocol.json.jackson3.JacksonMcpJsonMapper;
import io.modelcontextprotocol.server.transport.DefaultServerTransportSecurityValidator;
import io.modelcontextprotocol.spec.McpSchema.ServerCapabilities;
import tools.jackson.databind.json.JsonMapper;
import org.springframework.ai.mcp.customizer.McpSyncServerCustomizer;
import org.springframework.ai.mcp.server.common.autoconfigure.properties.McpServerStreamableHttpProperties;
import org.springframework.ai.mcp.server.webflux.transport.WebFluxStreamableServerTransportProvider;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Profile;

/**
 * The server-wide settings the conformance suite checks and Spring AI's auto-configuration does not make: transport
 * security against DNS rebinding, and the {@code resources.subscribe} capability.
 */
@Configuration(proxyBeanMethods = false)
@Profile("conformance")
class ConformanceServerConfiguration {

	/**
	 * Spring AI's transport, as its auto-configuration builds it (which backs off for this bean), plus a security
	 * validator: by default every Host and Origin is accepted, which is what DNS rebinding exploits. Only loopback
	 * names are allowed here, on any port, because the suite and the local cluster run on loopback only.
	 */
	@Bean
	WebFluxStreamableServerTransportProvider webFluxStreamableServerTransportProvider(
			@Qualifier("mcpServerJsonMapper") JsonMapper jsonMapper, McpServerStreamableHttpProperties properties) {
		return WebFluxStreamableServerTransportProvider.builder()
			.jsonMapper(new JacksonMcpJsonMapper(jsonMapper))
			.messageEndpoint(properties.getMcpEndpoint())
			.keepAliveInterval(properties.getKeepAliveInterval())
			.disallowDelete(properties.isDisallowDelete())
			.securityValidator(DefaultServerTransportSecurityValidator.builder()
				.allowedHost("localhost:*")
				.allowedHost("127.0.0.1:*")
				.allowedHost("[::1]:*")
				.allowedOrigin("http://localhost:*")
				.allowedOrigin("http://127.0.0.1:*")
				.allowedOrigin("http://[::1]:*")
				.build())
			.build();
	}

	/**
	 * Spring AI always declares resources without {@code subscribe}, and the MCP server only answers
	 * {@code resources/subscribe} and {@code resources/unsubscribe} when it is declared. This customizer runs after
	 * the auto-configuration set the capabilities, so it replaces them with the same set plus {@code subscribe}.
	 */
	@Bean
	McpSyncServerCustomizer resourceSubscriptionCapability() {
		return (server) -> server.capabilities(ServerCapabilities.builder()
			.tools(true)
			.resources(true, true)
			.prompts(true)
			.completions()
			.build());
	}

}
