package io.mcp.affinity.autoconfigure;

import java.time.Clock;
import java.util.List;
import java.util.Set;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.InstanceRegistry;
import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.SessionOwnerResolver;
import io.mcp.affinity.core.TwoTierOwnershipStore;
import io.mcp.affinity.web.ForwardSignature;
import io.mcp.affinity.web.McpSessionAffinity;
import io.mcp.affinity.web.OwnerForwarder;
import io.mcp.affinity.web.RoutingObserver;
import io.micrometer.observation.ObservationRegistry;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.boot.ssl.DefaultSslBundleRegistry;
import org.springframework.boot.ssl.SslBundles;
import org.springframework.boot.web.server.autoconfigure.ServerProperties;
import org.springframework.cloud.gateway.config.GatewayProperties;
import org.springframework.cloud.gateway.config.HttpClientCustomizer;
import org.springframework.cloud.gateway.config.HttpClientFactory;
import org.springframework.cloud.gateway.config.HttpClientProperties;
import org.springframework.cloud.gateway.config.HttpClientSslConfigurer;
import org.springframework.cloud.gateway.filter.NettyRoutingFilter;
import org.springframework.cloud.gateway.filter.headers.HttpHeadersFilter;
import org.springframework.cloud.gateway.filter.headers.observation.ObservedRequestHttpHeadersFilter;
import org.springframework.cloud.gateway.filter.headers.observation.ObservedResponseHttpHeadersFilter;
import org.springframework.context.annotation.Bean;
import org.springframework.core.env.Environment;
import org.springframework.util.ClassUtils;
import org.springframework.util.unit.DataSize;
import org.springframework.web.reactive.function.server.RouterFunction;
import reactor.netty.http.client.HttpClient;

/**
 * Auto-configuration of the request path: the {@link McpSessionAffinity} router filter, the {@link OwnerForwarder}
 * built from Spring Cloud Gateway's server machinery, and the post-processor that applies the filter to Spring AI's
 * MCP router.
 * <p>
 * The forwarder has an HTTP client and filters of its own, configured like the gateway's
 * ({@code spring.cloud.gateway.server.webflux.httpclient.*}) but never registered as beans: whether the application
 * uses the gateway, or disabled it, changes nothing.
 */
@AutoConfiguration(after = McpAffinityAutoConfiguration.class)
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
@ConditionalOnClass({ NettyRoutingFilter.class, HttpClient.class, RouterFunction.class })
@ConditionalOnBooleanProperty(name = "mcp.affinity.enabled", matchIfMissing = true)
@ConditionalOnBean(SessionOwnerResolver.class)
public final class McpAffinityWebFluxAutoConfiguration {

	/** Router beans of Spring AI's MCP server starter: Streamable HTTP, and the legacy HTTP+SSE transport. */
	static final Set<String> MCP_ROUTER_BEAN_NAMES = Set.of("webFluxStreamableServerRouterFunction",
			"webfluxSseServerRouterFunction");

	private static final Logger logger = LoggerFactory.getLogger(McpAffinityWebFluxAutoConfiguration.class);

	private static final String TRACER_CLASS = "io.micrometer.tracing.Tracer";

	private static final String GATEWAY_HTTP_CLIENT_PREFIX = GatewayProperties.PREFIX + ".httpclient";

	@Bean(defaultCandidate = false)
	@Qualifier("mcpAffinity")
	HttpClient mcpAffinityHttpClient(Environment environment, ObjectProvider<ServerProperties> serverProperties,
			ObjectProvider<SslBundles> sslBundles, ObjectProvider<HttpClientCustomizer> customizers) throws Exception {
		HttpClientProperties properties = Binder.get(environment)
			.bindOrCreate(GATEWAY_HTTP_CLIENT_PREFIX, HttpClientProperties.class);
		ServerProperties server = serverProperties.getIfAvailable(ServerProperties::new);
		HttpClientSslConfigurer ssl = new HttpClientSslConfigurer(properties.getSsl(), server,
				sslBundles.getIfAvailable(DefaultSslBundleRegistry::new)) {
		};
		HttpClientFactory factory = new HttpClientFactory(properties, server, ssl,
				customizers.orderedStream().toList());
		factory.afterPropertiesSet();
		return factory.getObject();
	}

	@Bean
	@ConditionalOnMissingBean
	OwnerForwarder ownerForwarder(@Qualifier("mcpAffinity") HttpClient mcpAffinityHttpClient,
			InstanceIdentity mcpAffinityInstanceIdentity, McpAffinityProperties properties, Environment environment,
			ObjectProvider<ObservationRegistry> observationRegistry, ObjectProvider<OwnershipStore> ownershipStore,
			ListableBeanFactory beanFactory) {
		String trusted = properties.getForwarding().getTrustedProxies();
		if (trusted == null) {
			trusted = environment.getProperty(GatewayProperties.PREFIX + ".trusted-proxies", ".*");
		}
		OwnerForwarder forwarder = new OwnerForwarder(mcpAffinityHttpClient,
				observationFilters(observationRegistry.getIfAvailable(() -> ObservationRegistry.NOOP), beanFactory),
				trusted, mcpAffinityInstanceIdentity, properties.getForwarding().getConnectTimeout(),
				properties.getForwarding().getResponseTimeout());
		ForwardSignature signature = forwardSignature(properties, ownershipStore.getIfAvailable());
		if (signature != null) {
			forwarder.setSignature(signature);
		}
		return forwarder;
	}

	private static @Nullable ForwardSignature forwardSignature(McpAffinityProperties properties,
			@Nullable OwnershipStore ownershipStore) {
		McpAffinityProperties.Forwarding forwarding = properties.getForwarding();
		String secret = forwarding.getSecret();
		if (secret == null || secret.isEmpty()) {
			boolean shared = ownershipStore instanceof TwoTierOwnershipStore;
			if (shared && forwarding.isRequireSecret()) {
				throw new InvalidConfigurationPropertyValueException("mcp.affinity.forwarding.secret", null,
						"mcp.affinity.forwarding.require-secret is true and instances share sessions through Redis. "
								+ "Set the same random secret of at least 16 characters on every instance.");
			}
			if (shared) {
				logger.warn("mcp-affinity: forwarded requests are not signed, so anyone who can reach an instance "
						+ "directly can pose as another instance. Set mcp.affinity.forwarding.secret on every instance.");
			}
			return null;
		}
		try {
			return new ForwardSignature(secret, forwarding.getPreviousSecret(), forwarding.getSignatureMaxAge(),
					Clock.systemUTC());
		}
		catch (IllegalArgumentException ex) {
			throw new InvalidConfigurationPropertyValueException("mcp.affinity.forwarding.secret", "(hidden)",
					ex.getMessage() + ". Use a random value, e.g. from 'openssl rand -base64 32'.");
		}
	}

	/**
	 * A client observation per forward, child of the server's, only with a tracer: then the gateway's propagating
	 * handler writes the trace headers, so one trace spans both instances. Without one, the observation would only
	 * time the forward again (as {@code http.client.requests}), at a cost the benchmark's profile showed per request;
	 * {@code mcp.affinity.forwards} already times every forward.
	 */
	private static List<HttpHeadersFilter> observationFilters(ObservationRegistry observationRegistry,
			ListableBeanFactory beanFactory) {
		if (observationRegistry.isNoop() || !ClassUtils.isPresent(TRACER_CLASS, null)) {
			return List.of();
		}
		// Without initializing factory beans early: a type check only.
		Class<?> tracer = ClassUtils.resolveClassName(TRACER_CLASS, null);
		if (beanFactory.getBeanNamesForType(tracer, true, false).length == 0) {
			return List.of();
		}
		return List.of(new ObservedRequestHttpHeadersFilter(observationRegistry), new ObservedResponseHttpHeadersFilter());
	}

	@Bean
	@ConditionalOnMissingBean
	McpSessionAffinity mcpSessionAffinity(SessionOwnerResolver sessionOwnerResolver, OwnerForwarder ownerForwarder,
			ObjectProvider<RoutingObserver> routingObserver, McpAffinityProperties properties, Environment environment) {
		McpSessionAffinity sessionAffinity = new McpSessionAffinity(sessionOwnerResolver, ownerForwarder,
				routingObserver.getIfAvailable(() -> RoutingObserver.NONE));
		// What Spring's codecs (and so the MCP transport) accept in one piece: 256 KB unless configured.
		sessionAffinity.setMaxBodySize(Binder.get(environment)
			.bind("spring.codec.max-in-memory-size", DataSize.class)
			.orElse(DataSize.ofKilobytes(256))
			.toBytes());
		// Verifies with the secret the forwarder signs with: one configuration, read once.
		ForwardSignature signature = ownerForwarder.getSignature();
		if (signature != null) {
			sessionAffinity.setSignature(signature);
		}
		sessionAffinity.setBodyTimeout(properties.getRequestBodyTimeout());
		if (properties.isBindSessionsToPrincipal()) {
			sessionAffinity.bindSessionsToPrincipals(properties.getOwnershipTimeToLive());
		}
		return sessionAffinity;
	}

	@Bean
	DrainingLifecycle mcpAffinityDraining(McpSessionAffinity mcpSessionAffinity, InstanceRegistry instanceRegistry,
			InstanceIdentity mcpAffinityInstanceIdentity) {
		return new DrainingLifecycle(mcpSessionAffinity, instanceRegistry, mcpAffinityInstanceIdentity);
	}

	@Bean
	@ConditionalOnBooleanProperty(name = "mcp.affinity.apply-to-mcp-router", matchIfMissing = true)
	static BeanPostProcessor mcpRouterSessionAffinityPostProcessor(ObjectProvider<McpSessionAffinity> sessionAffinity) {
		return new BeanPostProcessor() {

			@Override
			public Object postProcessAfterInitialization(Object bean, String beanName) {
				if (bean instanceof RouterFunction<?> router && MCP_ROUTER_BEAN_NAMES.contains(beanName)) {
					return sessionAffinity.getObject().applyTo(router);
				}
				return bean;
			}

		};
	}

}
