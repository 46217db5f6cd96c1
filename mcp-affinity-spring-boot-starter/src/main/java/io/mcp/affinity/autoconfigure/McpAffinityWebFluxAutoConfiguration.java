package io.mcp.affinity.autoconfigure;

import java.util.List;
import java.util.Set;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.web.ForwardSignature;
import io.mcp.affinity.web.McpSessionAffinity;
import io.mcp.affinity.web.OwnerForwarder;
import io.mcp.affinity.web.SessionForwardingHttpHandler;
import io.mcp.affinity.web.SessionForwardingWebFilter;
import io.mcp.affinity.web.SessionRouting;
import io.micrometer.observation.ObservationRegistry;
import io.netty.handler.ssl.SslContext;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.ssl.DefaultSslBundleRegistry;
import org.springframework.boot.ssl.SslBundles;
import org.springframework.boot.web.server.autoconfigure.ServerProperties;
import org.springframework.cloud.gateway.config.GatewayProperties;
import org.springframework.cloud.gateway.config.HttpClientCustomizer;
import org.springframework.cloud.gateway.config.HttpClientProperties;
import org.springframework.cloud.gateway.filter.NettyRoutingFilter;
import org.springframework.cloud.gateway.filter.headers.HttpHeadersFilter;
import org.springframework.cloud.gateway.filter.headers.observation.ObservedRequestHttpHeadersFilter;
import org.springframework.cloud.gateway.filter.headers.observation.ObservedResponseHttpHeadersFilter;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;
import org.springframework.util.StringUtils;
import org.springframework.web.reactive.function.server.RouterFunction;
import reactor.netty.http.client.HttpClient;

/**
 * Auto-configuration of the WebFlux request path: the {@link McpSessionAffinity} router filter (the WebFlux adapter
 * of {@link SessionRouting}), the {@link OwnerForwarder} built from Spring Cloud Gateway's WebFlux server machinery,
 * and the post-processor that applies the filter to Spring AI's WebFlux MCP router.
 * <p>
 * The forwarder has an HTTP client and filters of its own, configured like the gateway's
 * ({@code spring.cloud.gateway.server.webflux.httpclient.*}) but never registered as beans: whether the application
 * uses the gateway, or disabled it, changes nothing.
 */
// After the tracing auto-configurations: whether a tracer is there decides where forwards are made.
@AutoConfiguration(after = McpAffinityRoutingAutoConfiguration.class,
		afterName = { "org.springframework.boot.micrometer.tracing.autoconfigure.MicrometerTracingAutoConfiguration",
				"org.springframework.boot.micrometer.tracing.autoconfigure.NoopTracerAutoConfiguration",
				"org.springframework.boot.micrometer.tracing.brave.autoconfigure.BraveAutoConfiguration",
				"org.springframework.boot.micrometer.tracing.opentelemetry.autoconfigure.OpenTelemetryTracingAutoConfiguration" })
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
@ConditionalOnClass({ NettyRoutingFilter.class, HttpClient.class, RouterFunction.class })
@ConditionalOnBooleanProperty(name = "mcp.affinity.enabled", matchIfMissing = true)
@ConditionalOnBean(SessionRouting.class)
public final class McpAffinityWebFluxAutoConfiguration {

	/** Router beans of Spring AI's MCP server starter: Streamable HTTP, and the legacy HTTP+SSE transport. */
	static final Set<String> MCP_ROUTER_BEAN_NAMES = Set.of("webFluxStreamableServerRouterFunction",
			"webfluxSseServerRouterFunction");

	private static final String GATEWAY_HTTP_CLIENT_PREFIX = GatewayProperties.PREFIX + ".httpclient";

	@Bean
	ForwardingHttpClients mcpAffinityHttpClients(Environment environment, McpAffinityProperties affinity,
			ObjectProvider<ServerProperties> serverProperties, ObjectProvider<SslBundles> sslBundles,
			ObjectProvider<HttpClientCustomizer> customizers) {
		HttpClientProperties properties = Binder.get(environment)
			.bindOrCreate(GATEWAY_HTTP_CLIENT_PREFIX, HttpClientProperties.class);
		SslBundles bundles = sslBundles.getIfAvailable(DefaultSslBundleRegistry::new);
		ServerProperties server = serverProperties.getIfAvailable(ServerProperties::new);
		ForwardingTls<SslContext> forwardingTls = McpAffinityRoutingAutoConfiguration.forwardingTls(
				affinity.getForwarding(), bundles, (bundle) -> ForwardingHttpClients.sslContext(bundle, server));
		if (forwardingTls == null) {
			// The gateway looks its own bundle up when it builds a client, at the first forward of each event loop,
			// where a name no bundle has would fail every forward: it fails start-up instead.
			McpAffinityRoutingAutoConfiguration.sslBundle(GATEWAY_HTTP_CLIENT_PREFIX + ".ssl.ssl-bundle",
					properties.getSsl().getSslBundle(), bundles);
		}
		return new ForwardingHttpClients(properties, server, bundles, forwardingTls,
				customizers.orderedStream().toList());
	}

	@Bean
	@ConditionalOnBooleanProperty(name = "mcp.affinity.forwarding.check-own-certificate", matchIfMissing = true)
	OwnCertificateCheck mcpAffinityOwnCertificateCheck(InstanceIdentity mcpAffinityInstanceIdentity,
			McpAffinityProperties affinity, Environment environment, ObjectProvider<SslBundles> sslBundles) {
		// Without a forwarding bundle, forwards take the gateway's SSL settings: the JVM's defaults, unless they name
		// trust or key material of their own, which the check does not follow.
		HttpClientProperties.Ssl gateway = Binder.get(environment)
			.bindOrCreate(GATEWAY_HTTP_CLIENT_PREFIX, HttpClientProperties.class)
			.getSsl();
		boolean jvmDefaults = !gateway.isUseInsecureTrustManager() && gateway.getTrustedX509Certificates().isEmpty()
				&& !StringUtils.hasText(gateway.getSslBundle()) && !StringUtils.hasText(gateway.getKeyStore());
		return McpAffinityRoutingAutoConfiguration.ownCertificateCheck(mcpAffinityInstanceIdentity,
				affinity.getForwarding(), sslBundles.getIfAvailable(), jvmDefaults);
	}

	@Bean
	@ConditionalOnMissingBean
	OwnerForwarder ownerForwarder(ForwardingHttpClients mcpAffinityHttpClients,
			InstanceIdentity mcpAffinityInstanceIdentity, SessionRouting mcpAffinitySessionRouting,
			McpAffinityProperties properties, Environment environment,
			ObjectProvider<ObservationRegistry> observationRegistry, ConfigurableListableBeanFactory beanFactory) {
		String trusted = properties.getForwarding().getTrustedProxies();
		if (trusted == null) {
			trusted = environment.getProperty(GatewayProperties.PREFIX + ".trusted-proxies", ".*");
		}
		OwnerForwarder forwarder = new OwnerForwarder(mcpAffinityHttpClients,
				observationFilters(observationRegistry.getIfAvailable(() -> ObservationRegistry.NOOP), beanFactory),
				trusted, mcpAffinityInstanceIdentity, properties.getForwarding().getConnectTimeout(),
				properties.getForwarding().getResponseTimeout());
		ForwardSignature signature = mcpAffinitySessionRouting.getSignature();
		if (signature != null) {
			forwarder.setSignature(signature);
		}
		return forwarder;
	}

	/**
	 * A client observation per forward, child of the server's, only with a tracer: then the gateway's propagating
	 * handler writes the trace headers, so one trace spans both instances. Without one, the observation would only
	 * time the forward again (as {@code http.client.requests}), at a cost the benchmark's profile showed per request;
	 * {@code mcp.affinity.forwards} already times every forward.
	 */
	private static List<HttpHeadersFilter> observationFilters(ObservationRegistry observationRegistry,
			ConfigurableListableBeanFactory beanFactory) {
		if (observationRegistry.isNoop() || !TracingConditions.traced(beanFactory)) {
			return List.of();
		}
		return List.of(new ObservedRequestHttpHeadersFilter(observationRegistry), new ObservedResponseHttpHeadersFilter());
	}

	@Bean
	@ConditionalOnMissingBean
	McpSessionAffinity mcpSessionAffinity(SessionRouting mcpAffinitySessionRouting, OwnerForwarder ownerForwarder) {
		return new McpSessionAffinity(mcpAffinitySessionRouting, ownerForwarder);
	}

	/**
	 * Forwards ahead of the application's filters (the default). Without a tracer (or with only Spring Boot's no-op
	 * one, {@link TracingConditions}), before Spring's web handler: the forwarder's server observation and exchange are
	 * skipped, the cheapest place. With one, in a web filter ordered first, under the server observation: the
	 * forwarder's server and client spans are then in the trace.
	 */
	@Configuration(proxyBeanMethods = false)
	@ConditionalOnBooleanProperty(name = "mcp.affinity.forwarding.before-application-filters", matchIfMissing = true)
	static class EarlyForwardingConfiguration {

		@Bean
		@Conditional(TracingConditions.NotTraced.class)
		SessionForwardingHttpHandler mcpSessionForwardingHttpHandler(McpSessionAffinity mcpSessionAffinity) {
			return new SessionForwardingHttpHandler(mcpSessionAffinity);
		}

		@Bean
		@Conditional(TracingConditions.Traced.class)
		SessionForwardingWebFilter mcpSessionForwardingWebFilter(McpSessionAffinity mcpSessionAffinity) {
			return new SessionForwardingWebFilter(mcpSessionAffinity);
		}

	}

	@Bean
	@ConditionalOnBooleanProperty(name = "mcp.affinity.apply-to-mcp-router", matchIfMissing = true)
	@SuppressWarnings("unchecked")
	static BeanPostProcessor mcpRouterSessionAffinityPostProcessor(ObjectProvider<McpSessionAffinity> sessionAffinity) {
		return new McpRouterPostProcessor<>(MCP_ROUTER_BEAN_NAMES, RouterFunction.class,
				(router) -> sessionAffinity.getObject().applyTo(router));
	}

}
