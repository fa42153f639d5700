// Oracle answers questions about Kafka 4.3.1's own behaviour for Spool's
// auth tests, by calling the real classes of the kafka-clients and
// kafka-metadata jars. It reads one request per line from stdin: a command
// and base64 arguments separated by tabs. It answers one line per request:
// "@@OK" or "@@ERR", a tab, and a base64 payload (the result or the
// exception's message). Lines not starting with "@@" are noise (logging).

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStreamReader;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import javax.security.auth.callback.Callback;
import javax.security.auth.callback.NameCallback;
import javax.security.auth.callback.PasswordCallback;
import javax.security.auth.login.AppConfigurationEntry;
import javax.security.auth.login.Configuration;

import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.metrics.Metrics;
import org.apache.kafka.common.metrics.internals.PluginMetricsImpl;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.apache.kafka.common.security.auth.SecurityProtocol;
import org.apache.kafka.common.security.scram.ScramExtensionsCallback;
import org.apache.kafka.common.security.scram.internals.ScramMechanism;
import org.apache.kafka.common.security.scram.internals.ScramSaslClient;
import org.apache.kafka.common.security.ssl.SslPrincipalMapper;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallback;
import org.apache.kafka.common.security.oauthbearer.internals.OAuthBearerClientInitialResponse;
import org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.authorizer.StandardAcl;
import org.apache.kafka.metadata.authorizer.StandardAuthorizer;
import org.apache.kafka.server.authorizer.Action;
import org.apache.kafka.server.authorizer.AuthorizableRequestContext;
import org.apache.kafka.server.authorizer.AuthorizationResult;

public class Oracle {
    static StandardAuthorizer authorizer;
    static ScramSaslClient scramClient;

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] parts = line.split("\t", -1);
            String[] a = new String[parts.length - 1];
            for (int i = 1; i < parts.length; i++)
                a[i - 1] = new String(Base64.getDecoder().decode(parts[i]), StandardCharsets.UTF_8);
            String out;
            boolean ok = true;
            try {
                out = handle(parts[0], a);
            } catch (Throwable t) {
                ok = false;
                Throwable c = t instanceof InvocationTargetException ? t.getCause() : t;
                out = c.getClass().getSimpleName() + ": " + c.getMessage();
            }
            System.out.println((ok ? "@@OK\t" : "@@ERR\t") + Base64.getEncoder().encodeToString(out.getBytes(StandardCharsets.UTF_8)));
            System.out.flush();
        }
    }

    static String handle(String cmd, String[] a) throws Exception {
        switch (cmd) {
            case "jaas": return jaas(a[0]);
            case "x500": return x500(a[0]);
            case "mapper": return SslPrincipalMapper.fromRules(a[0]).getName(a[1]);
            case "mapper-rules": return SslPrincipalMapper.fromRules(a[0]).toString();
            case "hostaddr": return InetAddress.getByName(a[0]).getHostAddress();
            case "apikey": return org.apache.kafka.common.protocol.ApiKeys.forId(Integer.parseInt(a[0])).name();
            case "acl-reset": return aclReset(a[0], a[1]);
            case "acl-add": return aclAdd(a);
            case "acl-authorize": return aclAuthorize(a);
            case "acl-by-type": return aclByType(a);
            case "acl-validate": return aclValidate(a);
            case "acl-filter": return aclFilter(a);
            case "scram-start": return scramStart(a);
            case "oauth-cir": return oauthCir(a[0]);
            case "oauth-unsecured": return oauthUnsecured(a);
            case "jwt-broker": return jwtBroker(a);
            case "scram-step": return scramStep(a[0]);
            default: throw new IllegalArgumentException("unknown command " + cmd);
        }
    }

    // jaas prints each login module as: name, flag, sorted key=value lines, ";".
    static String jaas(String config) throws Exception {
        Class<?> c = Class.forName("org.apache.kafka.common.security.JaasConfig");
        Constructor<?> ctor = c.getDeclaredConstructor(String.class, String.class);
        ctor.setAccessible(true);
        Configuration conf = (Configuration) ctor.newInstance("KafkaServer", config);
        StringBuilder sb = new StringBuilder();
        for (AppConfigurationEntry e : conf.getAppConfigurationEntry("KafkaServer")) {
            sb.append(e.getLoginModuleName()).append('\n');
            String flag = e.getControlFlag().toString();
            sb.append(flag.substring(flag.lastIndexOf(' ') + 1).toUpperCase()).append('\n');
            for (Map.Entry<String, ?> o : new TreeMap<>(e.getOptions()).entrySet())
                sb.append(o.getKey()).append('=').append(o.getValue()).append('\n');
            sb.append(";\n");
        }
        return sb.toString();
    }

    static String x500(String b64der) throws Exception {
        byte[] der = Base64.getDecoder().decode(b64der);
        X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
            .generateCertificate(new ByteArrayInputStream(der));
        return cert.getSubjectX500Principal().getName();
    }

    static String aclReset(String superUsers, String allowEveryone) {
        authorizer = new StandardAuthorizer();
        Map<String, Object> conf = new HashMap<>();
        conf.put(StandardAuthorizer.SUPER_USERS_CONFIG, superUsers);
        conf.put(StandardAuthorizer.ALLOW_EVERYONE_IF_NO_ACL_IS_FOUND_CONFIG, allowEveryone);
        authorizer.configure(conf);
        authorizer.withPluginMetrics(new PluginMetricsImpl(new Metrics(), Collections.singletonMap("oracle", "acl")));
        authorizer.completeInitialLoad();
        return "";
    }

    static AclBinding binding(String[] a, int i) {
        return new AclBinding(
            new ResourcePattern(ResourceType.fromString(a[i]), a[i + 1], PatternType.fromString(a[i + 2])),
            new AccessControlEntry(a[i + 3], a[i + 4], AclOperation.fromString(a[i + 5]), AclPermissionType.fromString(a[i + 6])));
    }

    // acl-add type name patternType principal host operation permission
    static String aclAdd(String[] a) {
        authorizer.addAcl(Uuid.randomUuid(), StandardAcl.fromAclBinding(binding(a, 0)));
        return "";
    }

    static AuthorizableRequestContext context(String principalType, String principalName, String host) throws Exception {
        KafkaPrincipal p = new KafkaPrincipal(principalType, principalName);
        InetAddress addr = InetAddress.getByName(host);
        return new AuthorizableRequestContext() {
            public String listenerName() { return "PLAINTEXT"; }
            public SecurityProtocol securityProtocol() { return SecurityProtocol.PLAINTEXT; }
            public KafkaPrincipal principal() { return p; }
            public InetAddress clientAddress() { return addr; }
            public int requestType() { return 1; }
            public int requestVersion() { return 0; }
            public String clientId() { return "oracle"; }
            public int correlationId() { return 0; }
        };
    }

    // acl-authorize principalType principalName host operation resourceType resourceName
    static String aclAuthorize(String[] a) throws Exception {
        Action action = new Action(AclOperation.fromString(a[3]),
            new ResourcePattern(ResourceType.fromString(a[4]), a[5], PatternType.LITERAL), 1, true, true);
        List<AuthorizationResult> r = authorizer.authorize(context(a[0], a[1], a[2]), Collections.singletonList(action));
        return r.get(0).name();
    }

    // acl-by-type principalType principalName host operation resourceType
    static String aclByType(String[] a) throws Exception {
        return authorizer.authorizeByResourceType(context(a[0], a[1], a[2]),
            AclOperation.fromString(a[3]), ResourceType.fromString(a[4])).name();
    }

    // acl-validate type name patternType principal host operation permission:
    // the broker's AclApis checks, then AclControlManager.validateNewAcl.
    static String aclValidate(String[] a) throws Exception {
        AclBinding b = binding(a, 0);
        if (b.pattern().resourceType() == ResourceType.CLUSTER && !b.pattern().name().equals("kafka-cluster"))
            return "The only valid name for the CLUSTER resource is kafka-cluster";
        if (b.pattern().name().isEmpty())
            return "Invalid empty resource name";
        Method m = Class.forName("org.apache.kafka.controller.AclControlManager").getDeclaredMethod("validateNewAcl", AclBinding.class);
        m.setAccessible(true);
        try {
            m.invoke(null, b);
        } catch (InvocationTargetException e) {
            return e.getCause().getMessage();
        }
        return "";
    }

    static String nullable(String s) { return s.equals("\u0000null") ? null : s; }

    // acl-filter <filter: type name patternType principal host operation permission> <binding: 7 fields>
    static String aclFilter(String[] a) {
        AclBindingFilter f = new AclBindingFilter(
            new ResourcePatternFilter(ResourceType.fromString(a[0]), nullable(a[1]), PatternType.fromString(a[2])),
            new AccessControlEntryFilter(nullable(a[3]), nullable(a[4]), AclOperation.fromString(a[5]), AclPermissionType.fromString(a[6])));
        return Boolean.toString(f.matches(binding(a, 7)));
    }

    // oauth-cir message: Kafka's parse of an OAUTHBEARER client initial
    // response: token, authzid, then sorted extensions, one per line.
    static String oauthCir(String msg) throws Exception {
        OAuthBearerClientInitialResponse r = new OAuthBearerClientInitialResponse(msg.getBytes(StandardCharsets.UTF_8));
        StringBuilder sb = new StringBuilder(r.tokenValue()).append('\n').append(r.authorizationId()).append('\n');
        for (Map.Entry<String, String> e : new TreeMap<>(r.extensions().map()).entrySet())
            sb.append(e.getKey()).append('=').append(e.getValue()).append('\n');
        return sb.toString();
    }

    // oauth-unsecured options nowMs token: Kafka's default OAUTHBEARER
    // validator. options are key=value lines (the JAAS options).
    static String oauthUnsecured(String[] a) throws Exception {
        Map<String, String> options = new HashMap<>();
        for (String line : a[0].split("\n")) {
            int i = line.indexOf('=');
            if (i > 0) options.put(line.substring(0, i), line.substring(i + 1));
        }
        long now = Long.parseLong(a[1]);
        OAuthBearerUnsecuredValidatorCallbackHandler h = new OAuthBearerUnsecuredValidatorCallbackHandler();
        Method timeSetter = OAuthBearerUnsecuredValidatorCallbackHandler.class.getDeclaredMethod("time", Time.class);
        timeSetter.setAccessible(true);
        timeSetter.invoke(h, new Time() {
            public long milliseconds() { return now; }
            public long nanoseconds() { return now * 1_000_000L; }
            public void sleep(long ms) { }
            public void waitObject(Object o, java.util.function.Supplier<Boolean> c, long d) { }
        });
        h.configure(Collections.emptyMap(), "OAUTHBEARER", Collections.singletonList(
            new AppConfigurationEntry("org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule",
                AppConfigurationEntry.LoginModuleControlFlag.REQUIRED, options)));
        OAuthBearerValidatorCallback cb = new OAuthBearerValidatorCallback(a[2]);
        h.handle(new Callback[] {cb});
        if (cb.token() == null)
            return "ERROR " + cb.errorStatus() + " " + cb.errorScope();
        return "OK " + cb.token().principalName() + " " + cb.token().lifetimeMs() + " " + new java.util.TreeSet<>(cb.token().scope());
    }

    // jwt-broker jwks audiences issuer skewSeconds token: Kafka's
    // BrokerJwtValidator (jose4j) with a resolver over the JWKS, at the real
    // clock. audiences is comma-separated; empty strings mean unset.
    static String jwtBroker(String[] a) throws Exception {
        List<org.jose4j.jwk.JsonWebKey> keys = new org.jose4j.jwk.JsonWebKeySet(a[0]).getJsonWebKeys();
        org.jose4j.keys.resolvers.JwksVerificationKeyResolver inner = new org.jose4j.keys.resolvers.JwksVerificationKeyResolver(keys);
        org.apache.kafka.common.security.oauthbearer.internals.secured.CloseableVerificationKeyResolver resolver =
            new org.apache.kafka.common.security.oauthbearer.internals.secured.CloseableVerificationKeyResolver() {
                public java.security.Key resolveKey(org.jose4j.jws.JsonWebSignature jws, List<org.jose4j.jwx.JsonWebStructure> nesting)
                        throws org.jose4j.lang.UnresolvableKeyException {
                    return inner.resolveKey(jws, nesting);
                }
            };
        Constructor<?> ctor = org.apache.kafka.common.security.oauthbearer.BrokerJwtValidator.class
            .getDeclaredConstructor(org.apache.kafka.common.security.oauthbearer.internals.secured.CloseableVerificationKeyResolver.class);
        ctor.setAccessible(true);
        org.apache.kafka.common.security.oauthbearer.BrokerJwtValidator v =
            (org.apache.kafka.common.security.oauthbearer.BrokerJwtValidator) ctor.newInstance(resolver);
        Map<String, Object> conf = new HashMap<>();
        List<String> aud = new ArrayList<>();
        for (String s : a[1].split(",")) if (!s.isEmpty()) aud.add(s);
        conf.put("sasl.oauthbearer.expected.audience", aud);
        conf.put("sasl.oauthbearer.expected.issuer", a[2].isEmpty() ? null : a[2]);
        conf.put("sasl.oauthbearer.clock.skew.seconds", a[3].isEmpty() ? 30 : Integer.parseInt(a[3]));
        conf.put("sasl.oauthbearer.scope.claim.name", "scope");
        conf.put("sasl.oauthbearer.sub.claim.name", "sub");
        v.configure(conf, "OAUTHBEARER", Collections.emptyList());
        org.apache.kafka.common.security.oauthbearer.OAuthBearerToken t = v.validate(a[4]);
        return "OK " + t.principalName() + " " + t.lifetimeMs() + " " + new java.util.TreeSet<>(t.scope());
    }

    // scram-start mechanism user password tokenauth: the client-first message.
    static String scramStart(String[] a) throws Exception {
        String user = a[1];
        char[] password = a[2].toCharArray();
        boolean token = Boolean.parseBoolean(a[3]);
        scramClient = new ScramSaslClient(ScramMechanism.forMechanismName(a[0]), (Callback[] cbs) -> {
            for (Callback cb : cbs) {
                if (cb instanceof NameCallback) ((NameCallback) cb).setName(user);
                else if (cb instanceof PasswordCallback) ((PasswordCallback) cb).setPassword(password);
                else if (cb instanceof ScramExtensionsCallback) {
                    if (token) ((ScramExtensionsCallback) cb).extensions(Collections.singletonMap("tokenauth", "true"));
                }
            }
        });
        return new String(scramClient.evaluateChallenge(new byte[0]), StandardCharsets.UTF_8);
    }

    // scram-step serverMessage: the client's answer ("" once complete).
    static String scramStep(String challenge) throws Exception {
        byte[] out = scramClient.evaluateChallenge(challenge.getBytes(StandardCharsets.UTF_8));
        String s = out == null ? "" : new String(out, StandardCharsets.UTF_8);
        return (scramClient.isComplete() ? "COMPLETE " : "") + s;
    }
}
