# Hostile -Database values: malformed URIs, passwords with characters that URIs treat
# specially, unreachable hosts and wrong passwords. Each case checks the error id, that the
# message names the culprit, that the test databases are as they were (Redis byte for byte, each
# etcd at the same revision), and that the password shows nowhere: no stream, no property, no
# error view, no file written.
#
# In each row, {pw} stands for the password: {a} and {b} in it are random per run, so that a
# password leaked in part is caught too. {redis}, {etcd} and {etcdauth} are the test servers,
# {redisclustertls} the TLS Redis Cluster's nodes and {tls} the folder of the test certificates.

BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/SecretSupport.ps1"
    $script:Index = 52
    $script:EtcdAuth = $env:DF_TEST_ETCD_AUTH -replace '^.*@', ''
    $rootPassword = ($env:DF_TEST_ETCD_AUTH -replace '@[^@]*$', '') -replace '^root:', ''

    # The revision of each test etcd (that with authentication read as root): any write moves it on.
    function Get-EtcdAuthRevision {
        $token = (Invoke-RestMethod -NoProxy -Method Post -Uri "http://$script:EtcdAuth/v3/auth/authenticate" -Body (@{ name = 'root'; password = $rootPassword } | ConvertTo-Json)).token
        $count = @{ key = 'AA=='; range_end = 'AA=='; count_only = $true } | ConvertTo-Json
        [long](Invoke-RestMethod -NoProxy -Method Post -Uri "http://$script:EtcdAuth/v3/kv/range" -Headers @{ Authorization = $token } -Body $count).header.revision
    }
    function Get-EtcdRevision { [long](Invoke-EtcdGateway kv/range @{ key = "`0"; range_end = "`0"; count_only = $true }).header.revision }

    $script:Commands = @{
        Table     = { param($db) Get-DfNbTable -Database $db }
        Migration = { param($db) Get-DfMigration -Database $db }
        Log       = { param($db) Get-DfMigrationLog -Database $db }
        Lock      = { param($db) Get-DfUpgradeLock -Database $db }
        Backup    = { param($db) Backup-DfNbDatabase -Database $db -Path (Join-Path $TestDrive "b-$([guid]::NewGuid()).jsonl.gz") -Confirm:$false }
        Migrate   = { param($db) Invoke-DfMigration -Database $db -Confirm:$false }
        Baseline  = { param($db) Set-DfMigrationBaseline -Database $db -Release pike -Confirm:$false }
    }
}

Describe 'A hostile -Database value' {
    BeforeAll {
        New-TestRedis $script:Index | Out-Null
        Add-RedisObjects $script:Index (New-Port 'p1' 't1'), (New-Port 'p2' 't2')
    }

    It '<Name>' -ForEach @(
        # Malformed URIs: the value is refused before anything is opened.
        @{ Name = 'one slash after redis:'; Db = 'redis:/:{pw}@{redis}/52'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'two slashes'; Cmd = 'Table' }
        @{ Name = 'one slash, no password'; Db = 'redis:/{redis}'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "'redis:/{redis}'"; Cmd = 'Migration' }
        @{ Name = 'redis:// alone'; Db = 'redis://'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'no host'; Cmd = 'Table' }
        @{ Name = 'a password but no host'; Db = 'redis://:{pw}@'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'no host'; Cmd = 'Lock' }
        @{ Name = 'a password and a db but no host'; Db = 'redis://:{pw}@/0'; Pw = '{a}/{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'no host'; Cmd = 'Table' }
        @{ Name = 'port out of range'; Db = 'redis://:{pw}@127.0.0.1:99999/0'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "'99999'"; Cmd = 'Table' }
        @{ Name = 'port 0'; Db = 'redis://:{pw}@127.0.0.1:0/0'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "'0'"; Cmd = 'Migrate' }
        @{ Name = 'negative port'; Db = 'redis://:{pw}@127.0.0.1:-1/0'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "'-1'"; Cmd = 'Table' }
        @{ Name = 'port not a number'; Db = 'redis://:{pw}@127.0.0.1:abc/0'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "'abc'"; Cmd = 'Backup' }
        @{ Name = 'empty port'; Db = 'redis://:{pw}@127.0.0.1:/0'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "port ''"; Cmd = 'Table' }
        @{ Name = 'db not a number'; Db = 'redis://:{pw}@{redis}/x'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "not 'x'"; Cmd = 'Log' }
        @{ Name = 'two path segments'; Db = 'redis://:{pw}@{redis}/0/1'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "not '0/1'"; Cmd = 'Table' }
        @{ Name = 'a path with a query'; Db = 'redis://:{pw}@{redis}/52?db=1'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "no query"; Cmd = 'Table' }
        @{ Name = 'the password in the query'; Db = 'redis://{redis}/52?password={pw}'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "no query"; Cmd = 'Baseline' }
        @{ Name = 'the password in a fragment'; Db = 'redis://{redis}/52#{pw}'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "fragment"; Cmd = 'Table' }
        @{ Name = 'a space in the host'; Db = 'redis://:{pw}@local host:6379'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "'local host'"; Cmd = 'Table' }
        @{ Name = 'an unclosed IPv6 bracket'; Db = 'redis://:{pw}@[::1:6379'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "'[::1:6379'"; Cmd = 'Table' }
        @{ Name = 'brackets that hold no IPv6 address'; Db = 'redis://:{pw}@[zz]:6379'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "'[zz]'"; Cmd = 'Lock' }
        @{ Name = 'two Redis hosts'; Db = 'redis://:{pw}@a:1,b:2/0'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'one host:port'; Cmd = 'Table' }
        @{ Name = 'rediss to a Redis without TLS'; Db = 'rediss://:{pw}@{redis}/0'; Pw = '{a}{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'rediss://{redis}/0'; Cmd = 'Table' }
        @{ Name = 'redis-cluster to a single Redis'; Db = 'redis-cluster://:{pw}@{redis}'; Pw = '{a}{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'redis-cluster://{redis}'; Cmd = 'Migration' }
        @{ Name = 'redis-cluster: a database number'; Db = 'redis-cluster://:{pw}@{redis}/3'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'one database only'; Cmd = 'Table' }
        @{ Name = 'rediss-cluster: a CA that signed no node'; Db = 'rediss-cluster://:{pw}@{redisclustertls}?ca={tls}/other-ca.pem'; Pw = '{a}{b}'; Id = 'NbDatabaseCertificateRejected'; Culprit = 'rediss-cluster://{redisclustertls}'; Cmd = 'Table' }
        @{ Name = 'rediss-cluster: a client key that is not its certificate''s'; Db = 'rediss-cluster://:{pw}@{redisclustertls}?ca={tls}/ca.pem&cert={tls}/client.pem&key={tls}/server.key'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'client.pem (cert=) is unusable'; Cmd = 'Table' }
        @{ Name = 'rediss-cluster: a CA file that does not exist'; Db = 'rediss-cluster://:{pw}@{redisclustertls}?ca={tls}/no-such-ca.pem'; Pw = '{a}@{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'no-such-ca.pem (ca=) is unusable'; Cmd = 'Migrate' }
        # Refused by the masters' own connections: the message gives Redis's refusal, not only where.
        @{ Name = 'rediss-cluster: a user and password the cluster does not have'; Db = 'rediss-cluster://ops:{pw}@{redisclustertls}?ca={tls}/ca.pem'; Pw = '{a}{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'rediss-cluster://{redisclustertls}: Redis answered: WRONGPASS invalid username-password pair'; Cmd = 'Lock' }
        @{ Name = 'redis-cluster: no seed listens'; Db = 'redis-cluster://:{pw}@127.0.0.1:1,127.0.0.1:2'; Pw = '{a}@{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'redis-cluster://127.0.0.1:1,127.0.0.1:2'; Cmd = 'Lock' }
        @{ Name = 'an http URI'; Db = 'http://user:{pw}@{etcd}'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "'http'"; Cmd = 'Table' }
        @{ Name = 'no scheme, a password'; Db = ':{pw}@{redis}'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'neither an NB database URI'; Cmd = 'Table' }
        @{ Name = 'user:password@host with no scheme'; Db = 'admin:{pw}@{redis}'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "'admin'"; Cmd = 'Table' }
        @{ Name = 'a % that starts no escape'; Db = 'redis://:{pw}@{redis}/52'; Pw = '{a}%zz{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "'%'"; Cmd = 'Table' }
        @{ Name = 'a % at the end'; Db = 'redis://:{pw}@{redis}/52'; Pw = '{a}{b}%4'; Id = 'NbDatabaseUriInvalid'; Culprit = "'%'"; Cmd = 'Migrate' }
        @{ Name = 'an escape that is not UTF-8'; Db = 'redis://:{pw}@{redis}/52'; Pw = '{a}%FF{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'UTF-8'; Cmd = 'Table' }
        @{ Name = 'half a UTF-8 character'; Db = 'redis://:{pw}@{redis}/52'; Pw = '{a}{b}%C3'; Id = 'NbDatabaseUriInvalid'; Culprit = 'UTF-8'; Cmd = 'Backup' }
        @{ Name = 'a bad escape in the user name'; Db = 'redis://us%G0er:{pw}@{redis}/52'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'the user name'; Cmd = 'Table' }
        @{ Name = 'etcd: a user without a password'; Db = 'etcd://{pw}@{etcdauth}'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'both a user name and a password'; Cmd = 'Table' }
        @{ Name = 'etcd: a password without a user'; Db = 'etcd://:{pw}@{etcdauth}'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'both a user name and a password'; Cmd = 'Lock' }
        @{ Name = 'etcd: a path'; Db = 'etcd://root:{pw}@{etcdauth}/nb'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "'/nb'"; Cmd = 'Table' }
        @{ Name = 'etcd: a query'; Db = 'etcd://root:{pw}@{etcdauth}?timeout=5'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'no query'; Cmd = 'Migration' }
        @{ Name = 'etcd: port out of range'; Db = 'etcd://root:{pw}@127.0.0.1:70000'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = "'70000'"; Cmd = 'Table' }
        @{ Name = 'etcd: an empty endpoint'; Db = 'etcd://root:{pw}@{etcd},'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'no host'; Cmd = 'Table' }
        @{ Name = 'etcd: no slashes'; Db = 'etcd:root:{pw}@{etcd}'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'two slashes'; Cmd = 'Table' }
        @{ Name = 'etcd: upper-case scheme, no host'; Db = 'ETCD://root:{pw}@'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'no host'; Cmd = 'Log' }
        @{ Name = 'a drive that does not exist'; Db = 'nodrive:/nb.jsonl'; Pw = '{a}{b}'; Id = 'NbDatabaseUriInvalid'; Culprit = 'not a path of the file system'; Cmd = 'Table' }
        @{ Name = 'a masked password this session was never given'; Db = 'redis://:***@{redis}/51'; Pw = '{a}{b}'; Id = 'NbDatabaseCredentialMissing'; Culprit = 'redis://:***@{redis}/51'; Cmd = 'Table' }
        # Unreachable servers: the URI parses, nothing answers.
        @{ Name = 'redis: nothing listens'; Db = 'redis://:{pw}@127.0.0.1:1/0'; Pw = '{a}#{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'redis://127.0.0.1:1/0'; Cmd = 'Table' }
        @{ Name = 'redis: a user, nothing listens'; Db = 'redis://ops:{pw}@127.0.0.1:1/0'; Pw = '{a}/{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'redis://127.0.0.1:1/0'; Cmd = 'Migrate' }
        @{ Name = 'redis: a host that does not resolve'; Db = 'redis://:{pw}@no-such-host.invalid:6379/0'; Pw = '{a}@{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'no-such-host.invalid'; Cmd = 'Table' }
        @{ Name = 'etcd: nothing listens'; Db = 'etcd://root:{pw}@127.0.0.1:1'; Pw = '{a}:{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'etcd://127.0.0.1:1'; Cmd = 'Table' }
        @{ Name = 'etcd: no endpoint listens'; Db = 'etcd://root:{pw}@127.0.0.1:1,127.0.0.1:2'; Pw = '{a} {b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'etcd://127.0.0.1:1,127.0.0.1:2'; Cmd = 'Lock' }
        # Wrong passwords against the test servers, with the characters URIs treat specially.
        @{ Name = 'etcd: wrong password'; Db = 'etcd://root:{pw}@{etcdauth}'; Pw = '{a}{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'etcd://{etcdauth}'; Cmd = 'Table' }
        @{ Name = 'etcd: wrong password with #'; Db = 'etcd://root:{pw}@{etcdauth}'; Pw = '{a}#{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'etcd://{etcdauth}'; Cmd = 'Migration' }
        @{ Name = 'etcd: wrong password with /'; Db = 'etcd://root:{pw}@{etcdauth}'; Pw = '{a}/{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'etcd://{etcdauth}'; Cmd = 'Table' }
        @{ Name = 'etcd: wrong password with @'; Db = 'etcd://root:{pw}@{etcdauth}'; Pw = '{a}@{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'etcd://{etcdauth}'; Cmd = 'Migrate' }
        @{ Name = 'etcd: wrong password with :'; Db = 'etcd://root:{pw}@{etcdauth}'; Pw = '{a}:{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'etcd://{etcdauth}'; Cmd = 'Table' }
        @{ Name = 'etcd: wrong password with %25'; Db = 'etcd://root:{pw}@{etcdauth}'; Pw = '{a}%25{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'etcd://{etcdauth}'; Cmd = 'Backup' }
        @{ Name = 'etcd: wrong password with a space'; Db = 'etcd://root:{pw}@{etcdauth}'; Pw = '{a} {b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'etcd://{etcdauth}'; Cmd = 'Table' }
        @{ Name = 'etcd: wrong password in unicode'; Db = 'etcd://root:{pw}@{etcdauth}'; Pw = '{a}пароль{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'etcd://{etcdauth}'; Cmd = 'Lock' }
        @{ Name = 'etcd: wrong password, escaped unicode'; Db = 'etcd://root:{pw}@{etcdauth}'; Pw = '{a}%C3%A9{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'etcd://{etcdauth}'; Cmd = 'Table' }
        @{ Name = 'etcd: wrong password with ? and #'; Db = 'etcd://root:{pw}@{etcdauth}'; Pw = '{a}?x=1#{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'etcd://{etcdauth}'; Cmd = 'Log' }
        @{ Name = 'etcd: a user that does not exist'; Db = 'etcd://nobody:{pw}@{etcdauth}'; Pw = '{a}{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'etcd://{etcdauth}'; Cmd = 'Table' }
        @{ Name = 'etcd: a password to an etcd without authentication'; Db = 'etcd://root:{pw}@{etcd}'; Pw = '{a}{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'etcd://{etcd}'; Cmd = 'Table' }
        @{ Name = 'redis: a password to a Redis that has none'; Db = 'redis://:{pw}@{redis}/52'; Pw = '{a}#{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'redis://{redis}/52'; Cmd = 'Table' }
        @{ Name = 'redis: a user that does not exist'; Db = 'redis://nobody:{pw}@{redis}/52'; Pw = '{a}/{b}@'; Id = 'NbDatabaseUnavailable'; Culprit = 'redis://{redis}/52'; Cmd = 'Migrate' }
        @{ Name = 'redis: the password-only form, wrong'; Db = 'redis://{pw}@{redis}/52'; Pw = '{a}#{b}'; Id = 'NbDatabaseUnavailable'; Culprit = 'redis://{redis}/52'; Cmd = 'Baseline' }
    ) {
        $a = [guid]::NewGuid().ToString('N').Substring(0, 10)
        $b = [guid]::NewGuid().ToString('N').Substring(0, 10)
        $fill = { param($s) $s.Replace('{redisclustertls}', ($env:DF_TEST_REDIS_CLUSTER_TLS -replace '^.*//', '')).Replace('{tls}', $env:DF_TEST_TLS).Replace('{redis}', $env:DF_TEST_REDIS).Replace('{etcdauth}', $script:EtcdAuth).Replace('{etcd}', $env:DF_TEST_ETCD).Replace('{a}', $a).Replace('{b}', $b) }
        $password = & $fill $Pw
        $database = (& $fill $Db).Replace('{pw}', $password)
        $culprit = & $fill $Culprit
        $redisBefore = Get-RedisDump $script:Index
        $etcdBefore = Get-EtcdRevision
        $etcdAuthBefore = Get-EtcdAuthRevision
        $etcdBefore | Should -BeGreaterThan 0
        $etcdAuthBefore | Should -BeGreaterThan 0
        $since = [datetime]::UtcNow.AddSeconds(-1)

        $run = Invoke-Captured { & $script:Commands[$Cmd] $database }

        $run.Error | Should -Not -BeNullOrEmpty -Because "'$Name' must fail"
        $run.Error.FullyQualifiedErrorId | Should -BeLike "$Id,*"
        $run.Error.Exception.Message | Should -BeLike "*$([WildcardPattern]::Escape($culprit))*"
        if ($Id -ne 'NbDatabaseUnavailable') { $run.Error.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty }
        Get-RedisDump $script:Index | Should -BeExactly $redisBefore
        Get-EtcdRevision | Should -Be $etcdBefore -Because 'nothing is written to etcd'
        Get-EtcdAuthRevision | Should -Be $etcdAuthBefore -Because 'nothing is written to etcd'
        $written = (Get-WrittenText (Get-WriteFolders) $since) -join "`n"
        foreach ($secret in $a, $b) {
            $run.Text | Should -Not -Match $secret -Because 'no stream, property or error view may show the password'
            $written | Should -Not -Match $secret -Because 'no file the module wrote may hold the password'
        }
    }
}
