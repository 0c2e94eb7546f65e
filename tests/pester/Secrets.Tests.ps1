# A password given in -Database (or with -Credential) appears nowhere but where it was typed:
# not in errors, output objects, streams, log rows, backups or the journal. Pipelines still
# reach the database. The test Redis gets an ACL user with a password for these tests.

BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/SecretSupport.ps1"
    $script:Index = 53
    $script:Token = [guid]::NewGuid().ToString('N').Substring(0, 12)
    # A password with the characters a URI treats specially; the URI carries it escaped where it must.
    $script:Password = "$($script:Token)#/?@: %é"
    $script:User = "df-secrets-$([guid]::NewGuid().ToString('N').Substring(0, 6))"
    Invoke-RedisCli 0 ACL SETUSER $script:User on ">$script:Password" '~*' '&*' '+@all' | Out-Null
    $escaped = $script:Password.Replace('%', '%25')
    $script:Db = "redis://$($script:User):$escaped@$($env:DF_TEST_REDIS)/$($script:Index)"
    $script:Display = "redis://$($script:User):***@$($env:DF_TEST_REDIS)/$($script:Index)"
}

AfterAll {
    Invoke-RedisCli 0 ACL DELUSER $script:User | Out-Null
}

Describe 'Passwords in -Database' {
    BeforeEach {
        New-TestRedis $script:Index | Out-Null
        Add-RedisObjects $script:Index (New-Port 'p1' 't1'), (New-Port 'p2' 't2' 'network:dhcp')
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        New-MigrationFile $folder '1.ps1' 'flag' '2017-09-01T00:00:00Z' $FlagComputePorts | Out-Null
        Set-ShippedMigrationsApplied "redis://$($env:DF_TEST_REDIS)/$($script:Index)"
    }

    It 'opens a database whose password holds # / ? @ : % and spaces, and names it only in its redacted form' {
        $run = Invoke-Captured { Get-DfNbTable -Database $script:Db }
        $run.Error | Should -BeNullOrEmpty
        $tables = $run.Records | Where-Object { $_ -isnot [System.Management.Automation.InformationalRecord] }
        ($tables | Where-Object Table -eq 'lport').Count | Should -Be 2
        $tables.Database | Select-Object -Unique | Should -Be $script:Display
        $run.Text | Should -Not -Match $script:Token
    }

    It 'keeps the password out of the Database of every output object, and pipelines still reach the database' {
        $since = [datetime]::UtcNow.AddSeconds(-1)
        $backup = Join-Path $TestDrive "secrets-$([guid]::NewGuid()).jsonl.gz"
        $run = Invoke-Captured {
            $lock = Lock-DfNbDatabase -Database $script:Db -Confirm:$false
            $lock
            Get-DfUpgradeLock -Database $script:Db
            $lock | Unlock-DfNbDatabase -Confirm:$false -PassThru
            Get-DfMigration -Database $script:Db -MigrationPath $folder -Pending | Select-Object -Last 1 |
                Invoke-DfMigration -BackupPath $backup -Confirm:$false
            Get-DfMigrationLog -Database $script:Db
            Backup-DfNbDatabase -Database $script:Db -Path (Join-Path $TestDrive "b-$([guid]::NewGuid()).jsonl.gz") -Confirm:$false
        }
        $run.Error | Should -BeNullOrEmpty
        $objects = @($run.Records | Where-Object { $_.PSObject.Properties['Database'] })
        $objects.Count | Should -BeGreaterThan 5
        $objects.Database | Select-Object -Unique | Should -Be $script:Display
        # The migration ran, through the pipeline.
        (Invoke-RedisCli $script:Index GET '{lport.t1}.p1' | ConvertFrom-Json).flag | Should -BeTrue
        Get-DfUpgradeLock -Database "redis://$($env:DF_TEST_REDIS)/$($script:Index)" | Should -BeNullOrEmpty
        # Nowhere: streams, output, the database's own records (log rows, journal, last run), backups.
        $run.Text | Should -Not -Match $script:Token
        Get-RedisDump $script:Index | Should -Not -Match $script:Token
        (Get-WrittenText (Get-WriteFolders) $since) -join "`n" | Should -Not -Match $script:Token
    }

    It 'names only the redacted form in an error, its TargetObject and its CategoryInfo' {
        $wrong = "redis://$($script:User):$($script:Token)-wrong@$($env:DF_TEST_REDIS)/$($script:Index)"
        $run = Invoke-Captured { Get-DfNbTable -Database $wrong }
        $run.Error.FullyQualifiedErrorId | Should -BeLike 'NbDatabaseUnavailable,*'
        $run.Error.TargetObject | Should -Be $script:Display
        $run.Error.CategoryInfo.TargetName | Should -Be $script:Display
        $run.Text | Should -Not -Match $script:Token
    }

    It 'does not repeat a URI that does not parse' {
        $run = Invoke-Captured { Get-DfNbTable -Database "redis://:$($script:Token)@host:99999/0" }
        $run.Error.FullyQualifiedErrorId | Should -BeLike 'NbDatabaseUriInvalid,*'
        $run.Error.Exception.Message | Should -BeLike "*'redis://:***@host:99999/0'*'99999'*"
        $run.Text | Should -Not -Match $script:Token
    }

    It 'takes the password from -Credential, and shows it nowhere' {
        $credential = [pscredential]::new($script:User, (ConvertTo-SecureString $script:Password -AsPlainText -Force))
        $run = Invoke-Captured { Get-DfNbTable -Database "redis://$($env:DF_TEST_REDIS)/$($script:Index)" -Credential $credential }
        $run.Error | Should -BeNullOrEmpty
        ($run.Records | Where-Object Table -eq 'lport').Count | Should -Be 2
        $run.Text | Should -Not -Match $script:Token
    }

    It 'keeps a wrong password out of the error of an etcd cluster whose first member is down, and out of a TLS URI''s query' {
        $etcdAuth = $env:DF_TEST_ETCD_AUTH -replace '^.*@', ''
        $run = Invoke-Captured { Get-DfNbTable -Database "etcd://root:$($script:Token)%23x@127.0.0.1:1,$etcdAuth" }
        $run.Error.FullyQualifiedErrorId | Should -BeLike 'NbDatabaseUnavailable,*'
        $run.Error.Exception.Message | Should -BeLike "*etcd://127.0.0.1:1,$etcdAuth*"
        $run.Text | Should -Not -Match $script:Token
        $run = Invoke-Captured { Get-DfNbTable -Database "rediss://u:$($script:Token)@127.0.0.1:1/0?ca=/nonexistent/ca.pem&password=$($script:Token)" }
        $run.Error.FullyQualifiedErrorId | Should -BeLike 'NbDatabaseUriInvalid,*'
        $run.Error.TargetObject | Should -Be 'rediss://u:***@127.0.0.1:1/0?ca=/nonexistent/ca.pem&password=***'
        $run.Text | Should -Not -Match $script:Token
    }

    It 'asks for the password when it meets a redacted form it was never given' {
        $ps = [powershell]::Create()
        try {
            $ps.AddScript("Import-Module '$PSScriptRoot/../../DragonflowUpgrade.psd1'; Get-DfNbTable -Database '$($script:Display)'").Invoke()
            $ps.Streams.Error.Count | Should -Be 1
            $ps.Streams.Error[0].FullyQualifiedErrorId | Should -BeLike 'NbDatabaseCredentialMissing,*'
            $ps.Streams.Error[0].ErrorDetails.RecommendedAction | Should -BeLike '*-Credential*'
        }
        finally { $ps.Dispose() }
    }
}
