package io.mcp.affinity.autoconfigure;

import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.function.Function;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.InstanceRegistry;
import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.SessionOwnerResolver;
import io.mcp.affinity.core.TwoTierOwnershipStore;
import io.mcp.affinity.web.ForwardSignature;
import io.mcp.affinity.web.RoutingObserver;
import io.mcp.affinity.web.SessionRouting;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.boot.ssl.NoSuchSslBundleException;
import org.springframework.boot.ssl.SslBundle;
import org.springframework.boot.ssl.SslBundles;
import org.springframework.context.annotation.Bean;
import org.springframework.core.env.Environment;
import org.springframework.util.unit.DataSize;

/**
 * Auto-configuration of the decision both web stacks share: the {@link SessionRouting} that says, for every MCP
 * request, whether the local handler takes it, which instance it is forwarded to, or what the affinity layer answers
 * itself; and the {@link DrainingLifecycle} that stops it claiming sessions on shutdown. Each stack's
 * auto-configuration ({@link McpAffinityWebFluxAutoConfiguration}, {@link McpAffinityServletAutoConfiguration}) adds
 * only its adapter and its forwarder.
 */
@AutoConfiguration(after = McpAffinityAutoConfiguration.class)
@ConditionalOnWebApplication
@ConditionalOnBooleanProperty(name = "mcp.affinity.enabled", matchIfMissing = true)
@ConditionalOnBean(SessionOwnerResolver.class)
public final class McpAffinityRoutingAutoConfiguration {

	private static final Logger logger = LoggerFactory.getLogger(McpAffinityRoutingAutoConfiguration.class);

	static final String SECRET_PROPERTY = "mcp.affinity.forwarding.secret";

	private static final String CONNECT_TIMEOUT_PROPERTY = "mcp.affinity.forwarding.connect-timeout";

	private static final String RESPONSE_TIMEOUT_PROPERTY = "mcp.affinity.forwarding.response-timeout";

	private static final String SSL_BUNDLE_PROPERTY = "mcp.affinity.forwarding.ssl-bundle";

	@Bean
	@ConditionalOnMissingBean
	SessionRouting mcpAffinitySessionRouting(SessionOwnerResolver sessionOwnerResolver,
			ObjectProvider<RoutingObserver> routingObserver, ObjectProvider<OwnershipStore> ownershipStore,
			McpAffinityProperties properties, Environment environment) {
		checkForwardingTimeouts(properties.getForwarding());
		SessionRouting routing = new SessionRouting(sessionOwnerResolver,
				routingObserver.getIfAvailable(() -> RoutingObserver.NONE));
		// What Spring's codecs (and so the WebFlux MCP transport) accept in one piece: 256 KB unless configured. The
		// servlet transport reads a message whole too, with no limit of its own: the same limit protects it.
		routing.setMaxBodySize(Binder.get(environment)
			.bind("spring.codec.max-in-memory-size", DataSize.class)
			.orElse(DataSize.ofKilobytes(256))
			.toBytes());
		// One secret signs forwards (each stack's forwarder takes it from here) and verifies them.
		ForwardSignature signature = forwardSignature(properties, ownershipStore.getIfAvailable());
		if (signature != null) {
			routing.setSignature(signature);
		}
		routing.setBodyTimeout(properties.getRequestBodyTimeout());
		if (properties.isBindSessionsToPrincipal()) {
			routing.bindSessionsToPrincipals(properties.getOwnershipTimeToLive());
		}
		return routing;
	}

	// A forward's response timeout runs from its start, connecting included (on both stacks). At or under the connect
	// timeout, an owner that accepts no connection in time would get 504, as a slow one does, never its 503.
	private static void checkForwardingTimeouts(McpAffinityProperties.Forwarding forwarding) {
		Duration connect = forwarding.getConnectTimeout();
		Duration response = forwarding.getResponseTimeout();
		if (connect.isNegative() || connect.isZero()) {
			throw new InvalidConfigurationPropertyValueException(CONNECT_TIMEOUT_PROPERTY, connect,
					"It must be positive: how long a forward waits for a connection to the owner, e.g. 2s.");
		}
		if (response.compareTo(connect) <= 0) {
			throw new InvalidConfigurationPropertyValueException(RESPONSE_TIMEOUT_PROPERTY, response,
					"It must be longer than " + CONNECT_TIMEOUT_PROPERTY + " (" + connect + "), which it includes: "
							+ "raise it above your slowest tool call that answers with plain JSON (60s by default), "
							+ "or lower the connect timeout.");
		}
	}

	/**
	 * The TLS of forwards to https owners, made from the SSL bundle the forwarding names and following its updates.
	 * The bundle is looked up at start-up, so that a name no bundle has fails there, not at the first forward.
	 * @param <T> what the stack's client secures its connections with
	 * @param forwarding the forwarding properties
	 * @param sslBundles the application's bundles, if it has any
	 * @param make makes that from a version of the bundle
	 * @return the TLS, or {@code null} when no bundle is named
	 */
	static <T> @Nullable ForwardingTls<T> forwardingTls(McpAffinityProperties.Forwarding forwarding,
			@Nullable SslBundles sslBundles, Function<SslBundle, T> make) {
		String name = forwarding.getSslBundle();
		SslBundle bundle = sslBundle(SSL_BUNDLE_PROPERTY, name, sslBundles);
		if (bundle == null || name == null || sslBundles == null) {
			return null;
		}
		return ForwardingTls.follow(sslBundles, name, bundle, make);
	}

	/**
	 * The start-up check of this instance's own certificate against the TLS forwards use (when it registers an https
	 * address).
	 * @param self this instance
	 * @param forwarding the forwarding properties
	 * @param sslBundles the application's bundles, if it has any
	 * @param checkable whether forwards without a forwarding bundle take the JVM's TLS defaults, which the check
	 * follows (not the WebFlux gateway's own SSL settings)
	 * @return the check
	 */
	static OwnCertificateCheck ownCertificateCheck(InstanceIdentity self, McpAffinityProperties.Forwarding forwarding,
			@Nullable SslBundles sslBundles, boolean checkable) {
		String name = forwarding.getSslBundle();
		SslBundle bundle = sslBundle(SSL_BUNDLE_PROPERTY, name, sslBundles);
		URI address = (bundle != null || checkable) ? self.address() : null;
		return new OwnCertificateCheck(address, (bundle != null) ? name : null, bundle, forwarding.getConnectTimeout());
	}

	/**
	 * The SSL bundle a property names, failing start-up with the property's name and the fix when no bundle has that
	 * name.
	 * @param property the property
	 * @param name its value
	 * @param sslBundles the application's bundles, if it has any
	 * @return the bundle, or {@code null} when none is named
	 */
	static @Nullable SslBundle sslBundle(String property, @Nullable String name, @Nullable SslBundles sslBundles) {
		if (name == null || name.isEmpty()) {
			return null;
		}
		try {
			if (sslBundles == null) {
				throw new NoSuchSslBundleException(name, "The application has no SSL bundles");
			}
			return sslBundles.getBundle(name);
		}
		catch (NoSuchSslBundleException ex) {
			throw new InvalidConfigurationPropertyValueException(property, name, "No SSL bundle is named '" + name
					+ "'. Define it under spring.ssl.bundle.jks." + name + " or spring.ssl.bundle.pem." + name
					+ " (a truststore with the certificate authority of the instances' certificates), or unset this "
					+ "property.");
		}
	}

	private static @Nullable ForwardSignature forwardSignature(McpAffinityProperties properties,
			@Nullable OwnershipStore ownershipStore) {
		McpAffinityProperties.Forwarding forwarding = properties.getForwarding();
		String secret = forwarding.getSecret();
		if (secret == null || secret.isEmpty()) {
			boolean shared = ownershipStore instanceof TwoTierOwnershipStore;
			if (shared && forwarding.isRequireSecret()) {
				throw new InvalidConfigurationPropertyValueException(SECRET_PROPERTY, null,
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
			throw new InvalidConfigurationPropertyValueException(SECRET_PROPERTY, "(hidden)",
					ex.getMessage() + ". Use a random value, e.g. from 'openssl rand -base64 32'.");
		}
	}

	@Bean
	DrainingLifecycle mcpAffinityDraining(SessionRouting mcpAffinitySessionRouting, InstanceRegistry instanceRegistry,
			InstanceIdentity mcpAffinityInstanceIdentity) {
		return new DrainingLifecycle(mcpAffinitySessionRouting, instanceRegistry, mcpAffinityInstanceIdentity);
	}

}
