# Hostile input to Neutron's database cmdlets: a controller that does not answer, commands the
# inventory must refuse, a dump path already taken, a command that fails half-way, and a
# password that must show nowhere.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
    . (Join-Path $PSScriptRoot 'NeutronSupport.ps1')
    . (Join-Path $PSScriptRoot 'SecretSupport.ps1')
    $script:ssh = @{ KnownHostsPath = Join-Path $env:DF_TEST_SSH_DIR 'known_hosts'; DatabaseCredential = Get-TestNeutronCredential }
}

Describe 'Neutron''s database cmdlets given hostile input' {
    BeforeEach {
        $dir = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
    }

    It 'reports a controller that does not answer as NodeUnreachable, and leaves no file' {
        $down = @{ Name = 'down1'; Address = '127.0.0.254'; Roles = @('controller') }
        $inventory = New-TestNeutronInventory $dir @{ Node = 'down1' } -ExtraNode $down
        $path = Join-Path $dir 'neutron.sql.gz'
        Backup-DfNeutronDatabase -Inventory $inventory -Path $path @ssh -ConnectTimeout 2 -ErrorVariable failed -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'NodeUnreachable,*'
        $failed[0].Exception.Message | Should -BeLike 'down1 (*127.0.0.254*): cannot connect: *'
        $failed[0].TargetObject | Should -Be 'down1'
        $failed[0].ErrorDetails.RecommendedAction | Should -BeLike 'Check that the node is up and its SSH port reachable*'
        @(Get-ChildItem $dir -Force -Recurse -Filter 'neutron.sql.gz*').Count + @(Get-ChildItem $dir -Force -Filter '.neutron*').Count | Should -Be 0
    }

    It 'refuses a command with <Case> before anything runs, naming the file and field' -ForEach @(
        @{ Case = 'an unknown placeholder'; Field = 'Backup'; Command = 'mysqldump --databases {service}'; Id = 'InventoryPlaceholderUnknown'; Says = '{service} is not a placeholder: use {node}, {chassis}, {password}*' }
        @{ Case = '{password} inside quotes'; Field = 'Migrate'; Command = "sh -c 'MYSQL_PWD={password} neutron-db-manage upgrade heads'"; Id = 'InventoryPlaceholderUnsafe'; Says = '{password} may stand only at the start*' }
        @{ Case = '{password} in an argument'; Field = 'Backup'; Command = 'mysqldump -u neutron -p{password} --databases neutron'; Id = 'InventoryPlaceholderUnsafe'; Says = '*read with ps*MYSQL_PWD={password} mysqldump*' }
        @{ Case = '{password} after another command'; Field = 'Restore'; Command = 'cd / && MYSQL_PWD={password} mysql neutron'; Id = 'InventoryPlaceholderUnsafe'; Says = '{password} may stand only at the start*' }
        @{ Case = 'a placeholder after $'; Field = 'Restore'; Command = 'mysql ${node}'; Id = 'InventoryPlaceholderUnsafe'; Says = '*follows ''$''*' }
    ) {
        $inventory = New-TestNeutronInventory $dir @{ $Field = $Command }
        Invoke-DfNeutronMigration -Inventory $inventory @ssh -ErrorVariable failed -ErrorAction SilentlyContinue
        $failed[0].FullyQualifiedErrorId | Should -BeLike "$Id,*"
        $failed[0].Exception.Message | Should -BeLike "$inventory, line *, field NeutronDatabase.$Field`: $Says"
    }

    It 'refuses a <Case> given as the dump to restore as not a regular file, without waiting on it' -ForEach @(
        @{ Case = 'FIFO'; Make = { param($p) mkfifo $p } }
        @{ Case = 'folder'; Make = { param($p) New-Item -ItemType Directory $p | Out-Null } }
    ) {
        $inventory = New-TestNeutronInventory $dir
        $path = Join-Path $dir 'neutron.sql.gz'
        & $Make $path
        Set-Content "$path.sha256" "$('0' * 64)  neutron.sql.gz"
        # In a job: a restore that reads a FIFO no one writes would wait forever.
        $job = Start-Job {
            Import-Module $using:PSScriptRoot/../../DragonflowUpgrade.psd1
            $credential = [pscredential]::new('neutron', (ConvertTo-SecureString 'unused' -AsPlainText -Force))
            Restore-DfNeutronDatabase -Inventory $using:inventory -Path $using:path -KnownHostsPath $using:ssh.KnownHostsPath -DatabaseCredential $credential -Confirm:$false -ErrorVariable failed -ErrorAction SilentlyContinue
            [pscustomobject]@{ Id = $failed[0].FullyQualifiedErrorId; Message = $failed[0].Exception.Message }
        }
        try { $job | Wait-Job -Timeout 120 | Should -Not -BeNullOrEmpty -Because 'the restore should refuse at once' ; $result = $job | Receive-Job }
        finally { $job | Remove-Job -Force }
        $result.Id | Should -BeLike 'NeutronDumpNotRegular,*'
        $result.Message | Should -Be "The dump $path is not a regular file (a folder, a pipe or a device); nothing was restored."
    }

    It 'refuses a dangling symbolic link as the dump to write, and leaves no checksum file' {
        $inventory = New-TestNeutronInventory $dir
        $path = Join-Path $dir 'neutron.sql.gz'
        New-Item -ItemType SymbolicLink -Path $path -Target (Join-Path $dir 'nowhere/neutron.sql.gz') | Out-Null
        Backup-DfNeutronDatabase -Inventory $inventory -Path $path @ssh -ErrorVariable failed -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'NeutronDumpExists,*'
        Test-Path "$path.sha256" | Should -BeFalse
        @(Get-ChildItem $dir -Force -Filter '.neutron*').Count | Should -Be 0
    }

    It 'names an inventory that does not exist' {
        $missing = Join-Path $dir 'no-such-cloud.psd1'
        Invoke-DfNeutronMigration -Inventory $missing @ssh -ErrorVariable failed -ErrorAction SilentlyContinue
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'InventoryNotFound,*'
        $failed[0].Exception.Message | Should -Be "The inventory $missing does not exist."
    }

    It 'refuses a NeutronDatabase.Node that is no node of the inventory' {
        $inventory = New-TestNeutronInventory $dir @{ Node = 'ctl9' }
        Invoke-DfNeutronMigration -Inventory $inventory @ssh -ErrorVariable failed -ErrorAction SilentlyContinue
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'InventoryInvalid,*'
        $failed[0].Exception.Message | Should -BeLike "*field NeutronDatabase.Node: 'ctl9' is not a node of the inventory*"
    }

    It 'refuses a dump path that exists (or whose checksum file does) and leaves the file as it was' -ForEach @(
        @{ Taken = 'neutron.sql.gz' }, @{ Taken = 'neutron.sql.gz.sha256' }
    ) {
        $inventory = New-TestNeutronInventory $dir
        $path = Join-Path $dir 'neutron.sql.gz'
        Set-Content (Join-Path $dir $Taken) 'an operator''s file'
        Backup-DfNeutronDatabase -Inventory $inventory -Path $path @ssh -ErrorVariable failed -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'NeutronDumpExists,*'
        $failed[0].Exception.Message | Should -Be "$(Join-Path $dir $Taken) already exists; a dump never replaces a file."
        Get-Content (Join-Path $dir $Taken) | Should -Be 'an operator''s file'
        @(Get-ChildItem $dir -File -Force).Name | Sort-Object | Should -Be (@('inventory.json', $Taken) | Sort-Object)
    }

    It 'leaves no file that looks like a dump when the command fails after writing part of it' {
        $inventory = New-TestNeutronInventory $dir @{ Backup = 'seq 1 100000; echo "mysqldump: Error 2013: Lost connection" >&2; exit 2' }
        $path = Join-Path $dir 'neutron.sql.gz'
        Backup-DfNeutronDatabase -Inventory $inventory -Path $path @ssh -ErrorVariable failed -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'NeutronCommandFailed,*'
        $failed[0].Exception.Message | Should -BeLike '*exit code 2*Lost connection'
        @(Get-ChildItem $dir -File -Force).Name | Should -Be 'inventory.json'
    }

    It 'refuses a backup command that writes nothing: that is no dump' {
        $inventory = New-TestNeutronInventory $dir @{ Backup = 'true' }
        Backup-DfNeutronDatabase -Inventory $inventory -Path (Join-Path $dir 'neutron.sql.gz') @ssh -ErrorVariable failed -ErrorAction SilentlyContinue
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'NeutronDumpEmpty,*'
        @(Get-ChildItem $dir -File -Force).Name | Should -Be 'inventory.json'
    }

    It 'asks for -DatabaseCredential when a command holds {password}, and runs nothing' {
        $inventory = New-TestNeutronInventory $dir
        $path = Join-Path $dir 'neutron.sql.gz'
        Backup-DfNeutronDatabase -Inventory $inventory -Path $path -KnownHostsPath $ssh.KnownHostsPath -ErrorVariable failed -ErrorAction SilentlyContinue
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'NeutronPasswordMissing,*'
        $failed[0].ErrorDetails.RecommendedAction | Should -BeLike '*-DatabaseCredential*'
        @(Get-ChildItem $dir -File -Force).Name | Should -Be 'inventory.json'
    }

    It 'shows the database password nowhere: not in -WhatIf, output, verbose lines, errors or files, even when a command echoes it' {
        Reset-TestNeutronDatabase
        $password = Get-TestNeutronPassword
        $inventory = New-TestNeutronInventory $dir @{ Migrate = 'MYSQL_PWD={password} true; P=$MYSQL_PWD; echo connecting with password $P; echo denied for $P >&2; exit 1' }
        $path = Join-Path $dir 'neutron.sql.gz'
        $since = [datetime]::UtcNow
        $texts = @(
            Get-WhatIf { Backup-DfNeutronDatabase -Inventory $inventory -Path $path @ssh -WhatIf }
            (Invoke-Captured { Backup-DfNeutronDatabase -Inventory $inventory -Path $path @ssh }).Text
            (Invoke-Captured { Get-Item $path | Restore-DfNeutronDatabase -Inventory $inventory @ssh -Confirm:$false }).Text
            ($migration = Invoke-Captured { Invoke-DfNeutronMigration -Inventory $inventory @ssh }).Text
            Get-WrittenText $dir $since
        )
        $migration.Error.FullyQualifiedErrorId | Should -BeLike 'NeutronCommandFailed,*'
        $migration.Error.Exception.Message | Should -BeLike '*denied for `*`*`*'
        ($texts -join "`n") | Should -BeLike '*connecting with password `*`*`**'
        ($texts -join "`n") | Should -Not -BeLike "*$password*"
    }

    It 'passes a password holding <Case> to the command as it is, runs nothing it holds, and shows no line of it' -ForEach @(
        @{ Case = 'quotes'; Password = 'it''s "quoted" pass'; ErrorId = 'NeutronCommandFailed' }
        @{ Case = 'command substitutions'; Password = 'a$(touch %DIR%/ran)b`touch %DIR%/ran2`c'; ErrorId = 'NeutronCommandFailed' }
        # A password goes to the node as one line on standard input: a line break in it is refused before anything runs.
        @{ Case = 'a newline'; Password = "first-secret-line`nsecond-secret-line"; ErrorId = 'NeutronPasswordInvalid' }
        @{ Case = 'a carriage return and newline'; Password = "first-secret-line`r`nsecond-secret-line"; ErrorId = 'NeutronPasswordInvalid' }
    ) {
        New-Item -ItemType Directory $dir -Force | Out-Null
        $password = $Password.Replace('%DIR%', $dir)
        $hash = (Get-FileHash -InputStream ([IO.MemoryStream]::new([Text.Encoding]::UTF8.GetBytes($password))) -Algorithm SHA256).Hash.ToLowerInvariant()
        # Exit 3: the command got another password; exit 1 after printing it on both streams.
        $migrate = 'MYSQL_PWD={password} true; P=$MYSQL_PWD; [ "$(printf %s "$P" | sha256sum | cut -c1-64)" = ' + $hash + ' ] || exit 3; printf ''%s\n'' "$P"; printf ''%s\n'' "$P" >&2; exit 1'
        $inventory = New-TestNeutronInventory $dir @{ Migrate = $migrate }
        $credential = [pscredential]::new('neutron', (ConvertTo-SecureString $password -AsPlainText -Force))
        $since = [datetime]::UtcNow
        $run = Invoke-Captured { Invoke-DfNeutronMigration -Inventory $inventory -DatabaseCredential $credential -KnownHostsPath $ssh.KnownHostsPath }
        $run.Error.FullyQualifiedErrorId | Should -BeLike "$ErrorId,*"
        if ($ErrorId -eq 'NeutronCommandFailed') { $run.Error.Exception.Message | Should -BeLike '*exit code 1 *' }
        Join-Path $dir 'ran' | Should -Not -Exist
        Join-Path $dir 'ran2' | Should -Not -Exist
        $texts = (@($run.Text) + @(Get-WrittenText $dir $since)) -join "`n"
        foreach ($part in @($password) + ($password -split '\r?\n')) { $texts | Should -Not -BeLike "*$([WildcardPattern]::Escape($part))*" }
    }
}
