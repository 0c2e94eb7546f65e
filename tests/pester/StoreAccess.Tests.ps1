# How the module signs in to and secures its connections to the NB database servers: Redis ACL
# users, TLS, several etcd endpoints. Each test reaches the database the way an operator's
# -Database names it, and runs what writes (the lock, the backup, the journal, the commit).

BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/SecretSupport.ps1"
    $script:Index = 60
    if (-not $env:DF_TEST_REDIS_MODULE_USER) { throw 'DF_TEST_REDIS_MODULE_USER is not set: run the tests through build.ps1 Test, which starts redis-server.' }
    $script:ModuleUser = $env:DF_TEST_REDIS_MODULE_USER -replace '@[^@]*$', ''
    $script:ModulePassword = $script:ModuleUser -replace '^[^:]*:', ''
}

Describe 'A Redis ACL user' {
    BeforeEach {
        New-TestRedis $script:Index | Out-Null
        Add-RedisObjects $script:Index (New-Port 'p1' 't1'), (New-Port 'p2' 't2' 'network:dhcp')
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        New-MigrationFile $folder '1.ps1' 'flag' '2017-09-01T00:00:00Z' $FlagComputePorts | Out-Null
        Set-ShippedMigrationsApplied "redis://$($env:DF_TEST_REDIS)/$($script:Index)"
    }

    It 'runs a migration, lock, backup and journal included, as a user allowed only the commands the module sends' {
        $db = "redis://$($env:DF_TEST_REDIS_MODULE_USER)/$($script:Index)"
        $backup = Join-Path $TestDrive "acl-$([guid]::NewGuid()).jsonl.gz"
        Invoke-DfMigration -Database $db -MigrationPath $folder -BackupPath $backup -Confirm:$false -ErrorAction Stop | Out-Null
        (Get-DfMigration -Database $db -MigrationPath $folder -Pending) | Should -BeNullOrEmpty
        (Invoke-RedisCli $script:Index GET '{lport.t1}.p1' | ConvertFrom-Json).flag | Should -BeTrue
        Test-Path $backup | Should -BeTrue
        Get-DfUpgradeLock -Database $db | Should -BeNullOrEmpty
    }

    It 'refuses a wrong password with NbDatabaseUnavailable naming the server, never the password' {
        $wrong = "redis://df-module:$($script:ModulePassword)x@$($env:DF_TEST_REDIS)/$($script:Index)"
        $run = Invoke-Captured { Get-DfNbTable -Database $wrong }
        $run.Error.FullyQualifiedErrorId | Should -BeLike 'NbDatabaseUnavailable,*'
        $run.Error.Exception.Message | Should -BeLike "*redis://$($env:DF_TEST_REDIS)/$($script:Index)*WRONGPASS*"
        $run.Text | Should -Not -Match $script:ModulePassword
    }
}

Describe 'Redis over TLS' {
    BeforeAll {
        if (-not $env:DF_TEST_REDIS_TLS) { throw 'DF_TEST_REDIS_TLS is not set: run the tests through build.ps1 Test, which starts the TLS Redis.' }
        $tls = $env:DF_TEST_TLS
        $script:TlsCli = @('-h', ($env:DF_TEST_REDIS_TLS -split ':')[0], '-p', ($env:DF_TEST_REDIS_TLS -split ':')[1], '--tls', '--cacert', "$tls/ca.pem", '--cert', "$tls/client.pem", '--key', "$tls/client.key")
        $script:TlsToken = [guid]::NewGuid().ToString('N').Substring(0, 12)
        $script:TlsUser = "df-tls-$($script:TlsToken.Substring(0, 6))"
        redis-cli @script:TlsCli ACL SETUSER $script:TlsUser on ">$($script:TlsToken)#x" '~*' '&*' '+@all' | Out-Null
        $query = "?ca=$tls/ca.pem&cert=$tls/client.pem&key=$tls/client.key"
        $script:TlsDb = "rediss://$($script:TlsUser):$($script:TlsToken)%23x@$($env:DF_TEST_REDIS_TLS)/$($script:Index)$query"
        $script:TlsDisplay = "rediss://$($script:TlsUser):***@$($env:DF_TEST_REDIS_TLS)/$($script:Index)$query"
        # A line of the client key: it must appear nowhere.
        $script:KeyLine = (Get-Content "$tls/client.key")[1]
    }
    AfterAll { redis-cli @script:TlsCli ACL DELUSER $script:TlsUser | Out-Null }

    It 'runs a migration with a client certificate, and shows the files'' paths but never the password or the key' {
        redis-cli @script:TlsCli -n $script:Index FLUSHDB | Out-Null
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        New-MigrationFile $folder '1.ps1' 'create' '2017-09-01T00:00:00Z' "`$NbApi.Create('lport', @{ id = 'p1'; topic = 't1'; flag = `$true })" | Out-Null
        $since = [datetime]::UtcNow.AddSeconds(-1)
        $backup = Join-Path $TestDrive "tls-$([guid]::NewGuid()).jsonl.gz"
        # Shipped migrations applied, the schema release unrecorded (as Set-ShippedMigrationsApplied does): the object is no release's.
        Set-DfMigrationBaseline -Database $script:TlsDb -Release queens -Confirm:$false | Out-Null
        redis-cli @script:TlsCli -n $script:Index DEL '{schema_migration_log.}.baseline' | Out-Null
        $run = Invoke-Captured {
            Invoke-DfMigration -Database $script:TlsDb -MigrationPath $folder -BackupPath $backup -Confirm:$false
            Get-DfNbTable -Database $script:TlsDb
        }
        $run.Error | Should -BeNullOrEmpty
        (redis-cli @script:TlsCli -n $script:Index GET '{lport.t1}.p1' | ConvertFrom-Json).flag | Should -BeTrue
        $objects = @($run.Records | Where-Object { $_.PSObject.Properties['Database'] })
        $objects.Database | Select-Object -Unique | Should -Be $script:TlsDisplay
        $run.Text | Should -Not -Match $script:TlsToken
        $run.Text | Should -Not -Match ([regex]::Escape($script:KeyLine))
        (Get-WrittenText (Get-WriteFolders) $since) -join "`n" | Should -Not -Match $script:TlsToken
    }

    It 'refuses a server certificate another CA signed, with NbDatabaseCertificateRejected naming the CA file, not the password' {
        $other = $script:TlsDb -replace 'ca=[^&]*ca\.pem', "ca=$env:DF_TEST_TLS/other-ca.pem"
        $run = Invoke-Captured { Get-DfNbTable -Database $other }
        $run.Error.FullyQualifiedErrorId | Should -BeLike 'NbDatabaseCertificateRejected,*'
        $run.Error.Exception.Message | Should -BeLike "*$($env:DF_TEST_REDIS_TLS)*is not signed by the CA in $env:DF_TEST_TLS/other-ca.pem*"
        $run.Text | Should -Not -Match $script:TlsToken
    }
}
